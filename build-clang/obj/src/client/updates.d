build-clang/obj/src/client/updates.o: src/client/updates.c \
  src/client/client_int.h include/mtproto/client.h \
  include/mtproto/common.h include/mtproto/net.h include/mtproto/tl.h \
  include/mtproto/transport.h include/mtproto/crypto.h \
  include/mtproto/ops.h src/client/msgbox.h \
  build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

src/client/client_int.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

src/client/msgbox.h:

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
