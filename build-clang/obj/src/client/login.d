build-clang/obj/src/client/login.o: src/client/login.c \
  src/client/op_int.h src/client/client_int.h include/mtproto/client.h \
  include/mtproto/common.h include/mtproto/net.h include/mtproto/tl.h \
  include/mtproto/transport.h include/mtproto/crypto.h \
  include/mtproto/ops.h build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

src/client/op_int.h:

src/client/client_int.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
