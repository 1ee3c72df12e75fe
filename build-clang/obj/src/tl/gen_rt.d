build-clang/obj/src/tl/gen_rt.o: src/tl/gen_rt.c src/tl/tl_gen_rt.h \
  include/mtproto/tl.h include/mtproto/common.h src/tl/tl_arena.h \
  src/util/util.h

src/tl/tl_gen_rt.h:

include/mtproto/tl.h:

include/mtproto/common.h:

src/tl/tl_arena.h:

src/util/util.h:
