build-clang/obj/src/client/iter.o: src/client/iter.c \
  include/mtproto/iter.h include/mtproto/client.h \
  include/mtproto/common.h include/mtproto/net.h include/mtproto/tl.h \
  include/mtproto/transport.h include/mtproto/crypto.h \
  include/mtproto/ops.h build-clang/gen/include/mtproto/tl_schema.h \
  build-clang/gen/include/mtproto/tl_mtproto.h

include/mtproto/iter.h:

include/mtproto/client.h:

include/mtproto/common.h:

include/mtproto/net.h:

include/mtproto/tl.h:

include/mtproto/transport.h:

include/mtproto/crypto.h:

include/mtproto/ops.h:

build-clang/gen/include/mtproto/tl_schema.h:

build-clang/gen/include/mtproto/tl_mtproto.h:
