build-clang/obj/src/client/chat.o: src/client/chat.c \
  include/mtproto/chat.h include/mtproto/client.h \
  include/mtproto/common.h include/mtproto/net.h include/mtproto/tl.h \
  include/mtproto/transport.h include/mtproto/crypto.h \
  include/mtproto/ops.h build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

include/mtproto/chat.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
