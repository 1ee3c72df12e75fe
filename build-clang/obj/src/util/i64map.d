build-clang/obj/src/util/i64map.o: src/util/i64map.c src/util/util.h \
  include/mtproto/common.h

src/util/util.h:

include/mtproto/common.h:
