build-clang/obj/src/tl/gzip.o: src/tl/gzip.c include/mtproto/tl.h \
  include/mtproto/common.h

include/mtproto/tl.h:

include/mtproto/common.h:
