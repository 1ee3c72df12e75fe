build-clang/obj/gen/tl_api227.o: build-clang/gen/tl_api227.c \
  build-clang/gen/tl_l227.h include/mtproto/tl.h \
  include/mtproto/common.h build-clang/gen/include/mtproto/tl_mtproto.h \
  src/tl/tl_gen_rt.h src/tl/tl_arena.h src/util/util.h

build-clang/gen/tl_l227.h:

include/mtproto/tl.h:

include/mtproto/common.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

src/tl/tl_gen_rt.h:

src/tl/tl_arena.h:

src/util/util.h:
