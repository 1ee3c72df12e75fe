build-clang/obj/src/server/srv_chan.o: src/server/srv_chan.c \
  src/server/srv_api_int.h src/server/server_int.h \
  include/mtproto/server.h include/mtproto/common.h \
  include/mtproto/conn.h include/mtproto/crypto.h \
  include/mtproto/envelope.h include/mtproto/transport.h \
  include/mtproto/handshake.h include/mtproto/session.h \
  include/mtproto/net.h include/mtproto/tl.h \
  build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

src/server/srv_api_int.h:

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

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
