build-clang/obj/src/tl/json_num.o: src/tl/json_num.c src/tl/json_int.h \
  include/mtproto/tl.h include/mtproto/common.h src/util/util.h

src/tl/json_int.h:

include/mtproto/tl.h:

include/mtproto/common.h:

src/util/util.h:
