build-clang/obj/src/tl/object.o: src/tl/object.c include/mtproto/tl.h \
  include/mtproto/common.h

include/mtproto/tl.h:

include/mtproto/common.h:
