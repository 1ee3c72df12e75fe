build-clang/obj/gen/tl_api198.o: build-clang/gen/tl_api198.c \
  build-clang/gen/tl_l198.h include/mtproto/tl.h \
  include/mtproto/common.h build-clang/gen/include/mtproto/tl_mtproto.h \
  src/tl/tl_gen_rt.h src/tl/tl_arena.h src/util/util.h

build-clang/gen/tl_l198.h:

include/mtproto/tl.h:

include/mtproto/common.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

src/tl/tl_gen_rt.h:

src/tl/tl_arena.h:

src/util/util.h:
