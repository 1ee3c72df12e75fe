build-clang/obj/src/proto/transport.o: src/proto/transport.c \
  include/mtproto/transport.h include/mtproto/common.h \
  include/mtproto/crypto.h src/proto/transport_internal.h \
  src/util/util.h

include/mtproto/transport.h:

include/mtproto/common.h:

include/mtproto/crypto.h:

src/proto/transport_internal.h:

src/util/util.h:
