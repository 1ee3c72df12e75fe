build-clang/obj/src/client/op.o: src/client/op.c src/client/op_int.h \
  src/client/client_int.h include/mtproto/client.h \
  include/mtproto/common.h include/mtproto/net.h include/mtproto/tl.h \
  include/mtproto/transport.h include/mtproto/crypto.h \
  include/mtproto/ops.h

src/client/op_int.h:

src/client/client_int.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:
