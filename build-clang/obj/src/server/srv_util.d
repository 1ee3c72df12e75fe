build-clang/obj/src/server/srv_util.o: src/server/srv_util.c \
  src/server/server_int.h include/mtproto/server.h \
  include/mtproto/common.h include/mtproto/conn.h \
  include/mtproto/crypto.h include/mtproto/envelope.h \
  include/mtproto/transport.h include/mtproto/handshake.h \
  include/mtproto/session.h include/mtproto/net.h include/mtproto/tl.h

src/server/server_int.h:

include/mtproto/server.h:

include/mtproto/common.h:

include/mtproto/conn.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

include/mtproto/transport.h:

include/mtproto/handshake.h:

include/mtproto/session.h:

include/mtproto/net.h:

include/mtproto/tl.h:
