# zlayer_containerd_fake: FakeClient, containerd in memory, for unit tests only.
# Included from agent/containerd/CMakeLists.txt.
find_package(LibArchive REQUIRED)

add_library(zlayer_containerd_fake STATIC ${CMAKE_CURRENT_LIST_DIR}/fake_client.cc)
target_link_libraries(zlayer_containerd_fake
  PUBLIC zlayer_common
  PRIVATE zlayer_oci LibArchive::LibArchive fmt::fmt zlayer_warnings)
