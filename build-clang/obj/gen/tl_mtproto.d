build-clang/obj/gen/tl_mtproto.o: build-clang/gen/tl_mtproto.c \
  build-clang/gen/include/mtproto/tl_mtproto.h include/mtproto/tl.h \
  include/mtproto/common.h build-clang/gen/include/mtproto/tl_schema.h \
  src/tl/tl_gen_rt.h src/tl/tl_arena.h src/util/util.h

build-clang/gen/include/mtproto/tl_mtproto.h:

include/mtproto/tl.h:

include/mtproto/common.h:

build-clang/gen/include/mtproto/tl_schema.h:

src/tl/tl_gen_rt.h:

src/tl/tl_arena.h:

src/util/util.h:
