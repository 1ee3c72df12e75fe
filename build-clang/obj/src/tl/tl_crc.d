build-clang/obj/src/tl/tl_crc.o: src/tl/tl_crc.c src/tl/tl_crc.h \
  include/mtproto/tl.h include/mtproto/common.h

src/tl/tl_crc.h:

include/mtproto/tl.h:

include/mtproto/common.h:
