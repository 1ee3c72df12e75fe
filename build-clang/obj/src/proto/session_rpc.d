build-clang/obj/src/proto/session_rpc.o: src/proto/session_rpc.c \
  include/mtproto/session.h include/mtproto/common.h \
  include/mtproto/crypto.h include/mtproto/envelope.h \
  build-clang/gen/include/mtproto/tl_mtproto.h include/mtproto/tl.h \
  build-clang/gen/include/mtproto/tl_schema.h src/proto/session_int.h \
  src/util/util.h

include/mtproto/session.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

include/mtproto/tl.h:

build-clang/gen/include/mtproto/tl_schema.h:

src/proto/session_int.h:

src/util/util.h:
