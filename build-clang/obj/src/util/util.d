build-clang/obj/src/util/util.o: src/util/util.c src/util/util.h \
  include/mtproto/common.h

src/util/util.h:

include/mtproto/common.h:
