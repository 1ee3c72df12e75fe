build-clang/obj/src/proto/session_pack.o: src/proto/session_pack.c \
  build-clang/gen/include/mtproto/tl_schema.h include/mtproto/tl.h \
  include/mtproto/common.h build-clang/gen/include/mtproto/tl_mtproto.h \
  src/proto/session_impl.h include/mtproto/session.h \
  include/mtproto/crypto.h include/mtproto/envelope.h \
  src/proto/session_int.h src/util/util.h

build-clang/gen/include/mtproto/tl_schema.h:

include/mtproto/tl.h:

include/mtproto/common.h:

build-clang/gen/include/mtproto/tl_mtproto.h:

src/proto/session_impl.h:

include/mtproto/session.h:

include/mtproto/crypto.h:

include/mtproto/envelope.h:

src/proto/session_int.h:

src/util/util.h:
