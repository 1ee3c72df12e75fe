build-clang/obj/gen/tl_layers.o: build-clang/gen/tl_layers.c \
  build-clang/gen/include/mtproto/tl_mtproto.h include/mtproto/tl.h \
  include/mtproto/common.h build-clang/gen/tl_l198.h \
  build-clang/gen/tl_l227.h build-clang/gen/include/mtproto/tl_schema.h

build-clang/gen/include/mtproto/tl_mtproto.h:

include/mtproto/tl.h:

include/mtproto/common.h:

build-clang/gen/tl_l198.h:

build-clang/gen/tl_l227.h:

build-clang/gen/include/mtproto/tl_schema.h:
