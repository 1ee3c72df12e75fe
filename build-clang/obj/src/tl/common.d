build-clang/obj/src/tl/common.o: src/tl/common.c include/mtproto/common.h \
  src/tl/tl_arena.h

include/mtproto/common.h:

src/tl/tl_arena.h:
