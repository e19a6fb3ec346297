// libpq loaded on demand (store/pq_lib.h): the table is complete, and a library that cannot be
// loaded is an error that names it.
#include "store/pq_lib.h"

#include <gtest/gtest.h>

namespace tapedeck::store::internal::pg {
namespace {

TEST(PqLib, LoadsLibpqWithEveryFunction) {
  Result<const PqLib*> lib = LoadPq();
  ASSERT_TRUE(lib.ok()) << lib.error().msg;
#define TD_PQ_CHECK(name) EXPECT_NE((*lib)->name, nullptr) << #name;
  TD_PQ_FUNCTIONS(TD_PQ_CHECK)
#undef TD_PQ_CHECK
  EXPECT_EQ(&Pq(), *lib);
  // Loaded once: the same table every time.
  EXPECT_EQ(*LoadPq(), *lib);
}

TEST(PqLib, AMissingLibraryIsAnErrorNamingIt) {
  Result<const PqLib*> lib = LoadPqFrom("libtapedeck-no-such-pq.so.5");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.error().code, ErrorCode::kIo);
  EXPECT_NE(lib.error().msg.find("libpq"), std::string::npos) << lib.error().msg;
  EXPECT_NE(lib.error().msg.find("libtapedeck-no-such-pq.so.5"), std::string::npos);
  EXPECT_EQ(lib.error().details.at("library"), "libtapedeck-no-such-pq.so.5");
  EXPECT_FALSE(lib.error().details.at("dlerror").empty());
}

TEST(PqLib, ALibraryWithoutLibpqsFunctionsIsAnErrorNamingThem) {
  // libc is loaded and has none of them.
  Result<const PqLib*> lib = LoadPqFrom("libc.so.6");
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.error().details.at("dlerror").find("PQconnectdbParams"), std::string::npos)
      << lib.error().details.at("dlerror");
}

}  // namespace
}  // namespace tapedeck::store::internal::pg
