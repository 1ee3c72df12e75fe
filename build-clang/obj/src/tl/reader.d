build-clang/obj/src/tl/reader.o: src/tl/reader.c include/mtproto/tl.h \
  include/mtproto/common.h src/tl/tl_arena.h src/tl/tl_gen_rt.h \
  src/util/util.h

include/mtproto/tl.h:

include/mtproto/common.h:

src/tl/tl_arena.h:

src/tl/tl_gen_rt.h:

src/util/util.h:
