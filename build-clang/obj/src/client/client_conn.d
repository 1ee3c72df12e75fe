build-clang/obj/src/client/client_conn.o: src/client/client_conn.c \
  src/client/client_core.h src/client/client_int.h \
  include/mtproto/client.h include/mtproto/common.h \
  include/mtproto/net.h include/mtproto/tl.h include/mtproto/transport.h \
  include/mtproto/crypto.h include/mtproto/ops.h include/mtproto/conn.h \
  include/mtproto/envelope.h include/mtproto/handshake.h \
  include/mtproto/session.h

src/client/client_core.h:

src/client/client_int.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

include/mtproto/conn.h:

include/mtproto/envelope.h:

include/mtproto/handshake.h:

include/mtproto/session.h:
