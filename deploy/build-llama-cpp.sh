#!/usr/bin/env bash
# Builds llama.cpp for this machine's CPU, for the embedded backend: the same commit LLamaSharp binds
# (LlamaCppCommit in Directory.Packages.props), LLamaSharp's own build flags, but -DGGML_NATIVE=ON, so every
# instruction set the CPU has is used (LLamaSharp's prebuilt avx512 build has no AVX512-VNNI, for one). Then:
#   LlmStack__LlamaCppLibraries=<out> dotnet run --project LlmStack.Api   (or LlmStack:LlamaCppLibraries in appsettings)
# The libraries run only on CPUs with the instruction sets of the one that built them: build on the host that serves.
#
# usage: deploy/build-llama-cpp.sh [--source <git repository>] [--out <folder>] [--jobs <n>]
#   --source  where to clone llama.cpp from (default https://github.com/ggml-org/llama.cpp; a local clone or mirror works)
#   --out     where the libraries go (default ~/.cache/llmstack/llama.cpp/<commit>-native)
# Needs git, cmake and a C/C++ compiler (Debian: apt-get install git cmake g++). About 15 minutes on 2 cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="$(sed -n 's:.*<LlamaCppCommit>\([0-9a-f]\{40\}\)</LlamaCppCommit>.*:\1:p' "$root/Directory.Packages.props")"
[ -n "$commit" ] || { echo "build-llama-cpp: no LlamaCppCommit in $root/Directory.Packages.props" >&2; exit 1; }
source_repo="https://github.com/ggml-org/llama.cpp"
out="${XDG_CACHE_HOME:-$HOME/.cache}/llmstack/llama.cpp/${commit:0:9}-native"
jobs="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --source) source_repo="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-llama-cpp: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for tool in git cmake c++; do
  command -v "$tool" > /dev/null || { echo "build-llama-cpp: '$tool' is not installed (Debian: apt-get install git cmake g++)" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/llama-cpp-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "build-llama-cpp: llama.cpp $commit from $source_repo"
git clone --quiet --no-checkout "$source_repo" "$work/src"
git -C "$work/src" -c advice.detachedHead=false checkout --quiet "$commit"

# LLamaSharp's flags (its .github/workflows/compile.yml: COMMON_DEFINE and LINUX_RPATH_DEFINE), native instead of a fixed AVX level.
cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
  "-DCMAKE_INSTALL_RPATH=\$ORIGIN" -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_PLATFORM_NO_VERSIONED_SONAME=ON > "$work/configure.log" \
  || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" --config Release -j "$jobs" --target ggml ggml-base ggml-cpu llama mtmd > "$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log" >&2; exit 1; }

mkdir -p "$out"
find "$work/build" -name 'lib*.so' -exec cp {} "$out/" \;
for lib in libllama.so libggml.so libggml-base.so libggml-cpu.so libmtmd.so; do
  [ -f "$out/$lib" ] || { echo "build-llama-cpp: the build made no $lib" >&2; exit 1; }
done
echo "build-llama-cpp: built into $out"
echo "Run the API with it: LlmStack__LlamaCppLibraries=$out"
