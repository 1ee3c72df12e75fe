build-clang/obj/src/tl/convert.o: src/tl/convert.c include/mtproto/tl.h \
  include/mtproto/common.h

include/mtproto/tl.h:

include/mtproto/common.h:
