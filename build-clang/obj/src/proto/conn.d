build-clang/obj/src/proto/conn.o: src/proto/conn.c include/mtproto/conn.h \
  include/mtproto/common.h include/mtproto/crypto.h \
  include/mtproto/envelope.h include/mtproto/transport.h \
  include/mtproto/handshake.h include/mtproto/session.h

include/mtproto/conn.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

include/mtproto/transport.h:

include/mtproto/handshake.h:

include/mtproto/session.h:
