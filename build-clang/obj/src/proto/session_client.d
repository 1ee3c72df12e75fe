build-clang/obj/src/proto/session_client.o: src/proto/session_client.c \
  src/proto/session_impl.h include/mtproto/session.h \
  include/mtproto/common.h include/mtproto/crypto.h \
  include/mtproto/envelope.h include/mtproto/tl.h \
  build-clang/gen/include/mtproto/tl_mtproto.h src/proto/session_int.h \
  src/util/util.h

src/proto/session_impl.h:

include/mtproto/session.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

include/mtproto/tl.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

src/proto/session_int.h:

src/util/util.h:
