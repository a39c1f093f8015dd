# Finds bnx's dependencies as imported targets, and decides in this one place whether CUDA/NCCL are on.
find_package(Torch REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
# OpenCV: core and imgproc are required; imgcodecs (PNG, CMYK JPEGs, `bnx convert`) is optional,
# because its Debian package pulls GDAL, OpenEXR and more (the device kit leaves it out). Without
# OpenCV's CMake package (the kit has only the modules' headers and libraries) the modules are
# found directly.
find_package(OpenCV QUIET COMPONENTS core imgproc OPTIONAL_COMPONENTS imgcodecs)
if(NOT OpenCV_FOUND)
  find_path(BNX_OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
  foreach(_m core imgproc imgcodecs)
    find_library(BNX_OPENCV_${_m} NAMES opencv_${_m} libopencv_${_m}.so.406)
    # A module needs its header too: a LibTorch package may bring OpenCV's libraries without them.
    if(BNX_OPENCV_${_m} AND BNX_OPENCV_INCLUDE_DIR AND EXISTS "${BNX_OPENCV_INCLUDE_DIR}/opencv2/${_m}.hpp")
      add_library(opencv_${_m} UNKNOWN IMPORTED)
      set_target_properties(opencv_${_m} PROPERTIES IMPORTED_LOCATION "${BNX_OPENCV_${_m}}"
                            INTERFACE_INCLUDE_DIRECTORIES "${BNX_OPENCV_INCLUDE_DIR}")
    endif()
  endforeach()
  if(NOT TARGET opencv_core OR NOT TARGET opencv_imgproc)
    message(FATAL_ERROR "bnx needs OpenCV's core and imgproc modules (Debian: libopencv-dev, or the device kit)")
  endif()
endif()
set(BNX_WITH_IMGCODECS OFF)
if(TARGET opencv_imgcodecs)
  set(BNX_WITH_IMGCODECS ON)
endif()
find_package(yaml-cpp REQUIRED)
find_package(ZLIB REQUIRED)
# libjpeg-turbo (>= 1.5, the library OpenCV decodes with) for cropped, scaled JPEG decoding.
find_package(JPEG REQUIRED)
# Debian keeps jconfig.h in the multiarch include folder, which compilers search only below /usr
# (not in the device kit's copy): add it where it lies elsewhere.
find_path(BNX_JCONFIG_DIR jconfig.h HINTS ${JPEG_INCLUDE_DIRS} PATH_SUFFIXES ${CMAKE_LIBRARY_ARCHITECTURE} x86_64-linux-gnu
          NO_DEFAULT_PATH)
if(BNX_JCONFIG_DIR AND NOT BNX_JCONFIG_DIR IN_LIST JPEG_INCLUDE_DIRS)
  list(APPEND JPEG_INCLUDE_DIRS ${BNX_JCONFIG_DIR})
  set_property(TARGET JPEG::JPEG APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES ${BNX_JCONFIG_DIR})
endif()
include(CheckSymbolExists)
set(CMAKE_REQUIRED_INCLUDES ${JPEG_INCLUDE_DIRS})
set(CMAKE_REQUIRED_LIBRARIES ${JPEG_LIBRARIES})
check_symbol_exists(jpeg_crop_scanline "stdio.h;jpeglib.h" BNX_HAVE_JPEG_CROP)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_LIBRARIES)
if(NOT BNX_HAVE_JPEG_CROP)
  message(FATAL_ERROR "bnx needs libjpeg-turbo >= 1.5 (jpeg_crop_scanline); found ${JPEG_LIBRARIES}")
endif()
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# Debian's TorchConfig exposes a plain list; wrap it in one imported target for the rest of the build.
add_library(bnx_torch INTERFACE)
target_link_libraries(bnx_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(bnx_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_options(bnx_torch INTERFACE ${TORCH_CXX_FLAGS})

# CUDA (and with it NCCL) is on exactly when the LibTorch found was built with CUDA.
set(BNX_WITH_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(BNX_WITH_CUDA ON)
endif()
set(BNX_NCCL_INCLUDE_DIR "" CACHE PATH "Directory with nccl.h (found automatically)")
set(BNX_NCCL_LIBRARY "" CACHE FILEPATH "libnccl (found automatically)")
# The NCCL that LibTorch itself loads comes first: a pip wheel ships nvidia/nccl/{include,
# lib/libnccl.so.2} next to torch/ (no unversioned libnccl.so), then NCCL_HOME, CUDA_HOME and the
# CUDA toolkit.
set(_bnx_nccl_hints "${TORCH_INSTALL_PREFIX}/../nvidia/nccl" "${TORCH_INSTALL_PREFIX}/../../nvidia/nccl")
find_path(_bnx_nccl_inc nccl.h HINTS ${BNX_NCCL_INCLUDE_DIR} ${_bnx_nccl_hints} ENV NCCL_HOME ENV CUDA_HOME
          PATH_SUFFIXES include PATHS /usr/local/cuda)
find_path(_bnx_cuda_inc cuda_runtime_api.h HINTS ENV CUDA_HOME PATH_SUFFIXES include PATHS /usr/local/cuda)
find_library(_bnx_nccl_lib NAMES nccl libnccl.so.2 HINTS ${BNX_NCCL_LIBRARY} ${_bnx_nccl_hints} ENV NCCL_HOME ENV CUDA_HOME
             PATH_SUFFIXES lib lib64 PATHS /usr/local/cuda)
if(BNX_WITH_CUDA)
  if(NOT _bnx_nccl_inc OR NOT _bnx_nccl_lib)
    message(FATAL_ERROR "bnx: this LibTorch has CUDA, but NCCL is incomplete (nccl.h: ${_bnx_nccl_inc}, libnccl: "
                        "${_bnx_nccl_lib}); set BNX_NCCL_INCLUDE_DIR and BNX_NCCL_LIBRARY or NCCL_HOME")
  endif()
  # cudart is called directly (events, streams, devices); the toolkit is the one TorchConfig used.
  find_package(CUDAToolkit REQUIRED)
  target_link_libraries(bnx_torch INTERFACE CUDA::cudart)
endif()
message(STATUS "bnx: LibTorch ${Torch_VERSION}, CUDA ${BNX_WITH_CUDA}, nccl.h ${_bnx_nccl_inc}, OpenCV image codecs ${BNX_WITH_IMGCODECS}")
