build-clang/obj/src/tl/vector.o: src/tl/vector.c include/mtproto/tl.h \
  include/mtproto/common.h

include/mtproto/tl.h:

include/mtproto/common.h:
