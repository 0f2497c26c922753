# zlayer_agent_images: the image store over containerd (references, platforms,
# manifests, unpack, archive import). Included from agent/images/CMakeLists.txt,
# after zlayer_agent_image_config is defined.
find_package(OpenSSL REQUIRED)
find_package(LibArchive REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

add_library(zlayer_agent_images STATIC
  ${CMAKE_CURRENT_LIST_DIR}/reference.cc
  ${CMAKE_CURRENT_LIST_DIR}/platform.cc
  ${CMAKE_CURRENT_LIST_DIR}/manifest.cc
  ${CMAKE_CURRENT_LIST_DIR}/unpacker.cc
  ${CMAKE_CURRENT_LIST_DIR}/image_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/importer.cc)
target_link_libraries(zlayer_agent_images
  PUBLIC zlayer_common zlayer_agent_image_config
  PRIVATE OpenSSL::Crypto LibArchive::LibArchive nlohmann_json::nlohmann_json fmt::fmt
          zlayer_warnings)
