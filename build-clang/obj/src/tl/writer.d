build-clang/obj/src/tl/writer.o: src/tl/writer.c include/mtproto/tl.h \
  include/mtproto/common.h src/tl/tl_gen_rt.h src/tl/tl_arena.h \
  src/util/util.h

include/mtproto/tl.h:

include/mtproto/common.h:

src/tl/tl_gen_rt.h:

src/tl/tl_arena.h:

src/util/util.h:
