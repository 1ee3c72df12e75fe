build-clang/obj/src/client/msgbox.o: src/client/msgbox.c \
  src/client/msgbox_int.h src/client/msgbox.h include/mtproto/common.h \
  include/mtproto/tl.h build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

src/client/msgbox_int.h:

src/client/msgbox.h:

include/mtproto/common.h:

include/mtproto/tl.h:

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
