build-clang/obj/src/crypto/aes.o: src/crypto/aes.c \
  src/crypto/crypto_internal.h include/mtproto/crypto.h \
  include/mtproto/common.h src/util/util.h

src/crypto/crypto_internal.h:

include/mtproto/crypto.h:

include/mtproto/common.h:

src/util/util.h:
