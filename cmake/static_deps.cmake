# gRPC, protobuf, abseil and yaml-cpp for our programs: linked statically when Debian's
# archives are installed (libgrpc++-dev, libprotobuf-dev, libabsl-dev, libyaml-cpp-dev ship
# them), shared otherwise. Included once from the top CMakeLists.txt; defines
#
#   zlayer_grpc   gRPC++ and protobuf. Static: gRPC's "unsecure" build (no TLS; the agent
#                 and the CLI only speak over unix sockets), with its abseil, upb, re2,
#                 c-ares and address_sorting. Shared: gRPC::grpc++ protobuf::libprotobuf.
#   zlayer_yaml   yaml-cpp.
#   ZLAYER_STATIC_DEPS_LINKED   TRUE when the static archives are used.
#
# Why: dynamically linked, `zlayer` loaded about 60 shared objects (most of them abseil's)
# and resolved about 15,000 symbol relocations before main, a large share of a `zlayer ps`
# and of the agent's start-up (bench/results/startup.md). Every target that links gRPC goes
# through zlayer_grpc, so no program holds two copies of gRPC or protobuf.
# -DZLAYER_STATIC_DEPS=OFF forces the shared libraries.

option(ZLAYER_STATIC_DEPS "Link gRPC, protobuf, abseil and yaml-cpp statically if archives exist"
       ON)

find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(ZLIB REQUIRED)

# The archives, users before what they use. They are linked as one group (the linker
# rescans it), so this order only has to be complete, not exact.
set(zlayer_grpc_archives
    grpc++_unsecure grpc_unsecure upb re2 cares address_sorting gpr protobuf
    absl_statusor absl_status absl_cord absl_cordz_info absl_cord_internal
    absl_cordz_functions absl_cordz_handle absl_exponential_biased absl_hashtablez_sampler
    absl_raw_hash_set absl_hash absl_city absl_low_level_hash absl_random_distributions
    absl_random_seed_sequences absl_random_internal_pool_urbg absl_random_internal_randen
    absl_random_internal_randen_hwaes absl_random_internal_randen_hwaes_impl
    absl_random_internal_randen_slow absl_random_internal_platform
    absl_random_internal_seed_material absl_random_seed_gen_exception
    absl_bad_optional_access absl_bad_variant_access absl_str_format_internal
    absl_synchronization absl_graphcycles_internal absl_stacktrace absl_symbolize
    absl_debugging_internal absl_demangle_internal absl_malloc_internal absl_time
    absl_civil_time absl_time_zone absl_strerror absl_strings absl_strings_internal
    absl_int128 absl_base absl_spinlock_wait absl_throw_delegate absl_raw_logging_internal
    absl_log_severity)

set(ZLAYER_STATIC_DEPS_LINKED FALSE)
set(zlayer_grpc_archive_paths)
set(zlayer_yaml_archive)
if(ZLAYER_STATIC_DEPS)
  set(missing)
  foreach(name ${zlayer_grpc_archives} yaml-cpp)
    string(MAKE_C_IDENTIFIER "ZLAYER_ARCHIVE_${name}" var)
    find_library(${var} NAMES lib${name}.a)
    if(NOT ${var})
      list(APPEND missing lib${name}.a)
    elseif(name STREQUAL "yaml-cpp")
      set(zlayer_yaml_archive ${${var}})
    else()
      list(APPEND zlayer_grpc_archive_paths ${${var}})
    endif()
  endforeach()
  if(missing)
    message(STATUS "static_deps: ${missing} not found; linking gRPC, protobuf, abseil and "
                   "yaml-cpp as shared libraries")
  else()
    set(ZLAYER_STATIC_DEPS_LINKED TRUE)
    message(STATUS "static_deps: linking gRPC, protobuf, abseil and yaml-cpp statically")
  endif()
endif()

add_library(zlayer_grpc INTERFACE)
add_library(zlayer_yaml INTERFACE)
if(ZLAYER_STATIC_DEPS_LINKED)
  target_include_directories(zlayer_grpc SYSTEM INTERFACE
      $<TARGET_PROPERTY:gRPC::grpc++,INTERFACE_INCLUDE_DIRECTORIES>
      $<TARGET_PROPERTY:protobuf::libprotobuf,INTERFACE_INCLUDE_DIRECTORIES>)
  # -pthread, as gRPC's and abseil's own targets bring it (same flags as the shared build).
  target_compile_options(zlayer_grpc INTERFACE -pthread)
  list(JOIN zlayer_grpc_archive_paths "," grpc_group)
  target_link_libraries(zlayer_grpc INTERFACE "$<LINK_GROUP:RESCAN,${grpc_group}>"
                        ZLIB::ZLIB -pthread ${CMAKE_DL_LIBS} rt atomic)
  target_include_directories(zlayer_yaml SYSTEM INTERFACE
      $<TARGET_PROPERTY:yaml-cpp,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(zlayer_yaml INTERFACE ${zlayer_yaml_archive})
else()
  target_link_libraries(zlayer_grpc INTERFACE gRPC::grpc++ protobuf::libprotobuf)
  target_link_libraries(zlayer_yaml INTERFACE yaml-cpp)
endif()
