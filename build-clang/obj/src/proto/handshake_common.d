build-clang/obj/src/proto/handshake_common.o: \
  src/proto/handshake_common.c src/proto/handshake_int.h \
  include/mtproto/handshake.h include/mtproto/common.h \
  include/mtproto/crypto.h include/mtproto/envelope.h \
  include/mtproto/tl.h build-clang/gen/include/mtproto/tl_mtproto.h \
  src/util/util.h

src/proto/handshake_int.h:

include/mtproto/handshake.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

include/mtproto/tl.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

src/util/util.h:
