#!/usr/bin/env bash
# Builds the llmstack-api and llmstack-web images, tagged with LlmStack's version (Directory.Build.props):
# `dotnet publish -r linux-x64 --self-contained` on this machine, then deploy/docker/Dockerfile around the output.
# Needs the .NET SDK and Docker; no registry when deploy/docker/base-images.sh can make the base locally (it
# prints the base image to build FROM).
# Usage: deploy/docker/build-images.sh            prints the tag it built
#   LLMSTACK_LLAMA_CPP=<folder>: the API image carries and runs that llama.cpp build (deploy/build-llama-cpp.sh,
#   made in Debian 12 like the images, on the CPU type that serves) instead of LLamaSharp's prebuilt ones.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${LLMSTACK_DOCKER_CONTEXT:-$repo/artifacts/docker}
llama_cpp=${LLMSTACK_LLAMA_CPP:-}
if [ -n "$llama_cpp" ] && [ ! -f "$llama_cpp/libllama.so" ]; then
  echo "build-images: LLMSTACK_LLAMA_CPP '$llama_cpp' holds no libllama.so (deploy/build-llama-cpp.sh makes one)" >&2
  exit 1
fi

base=$("$repo/deploy/docker/base-images.sh")
version=$(dotnet msbuild "$repo/LlmStack.Api/LlmStack.Api.csproj" -getProperty:Version)

build() { # <image name> <project> <assembly> [llama.cpp build to carry]
  local name=$1 project=$2 assembly=$3 libraries=${4:-} context="$out/$1" started=$SECONDS
  rm -rf "$context"
  dotnet publish "$repo/$project/$project.csproj" -c Release -r linux-x64 --self-contained \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$context/app" -nologo -v quiet >&2
  cp "$repo/deploy/docker/llmstack-probe" "$context/"
  local carried=()
  if [ -n "$libraries" ]; then
    mkdir -p "$context/app/llama.cpp" && cp "$libraries"/lib*.so "$context/app/llama.cpp/"
    carried=(--build-arg LLAMA_CPP_LIBRARIES=/app/llama.cpp)
  fi
  docker build -q --build-arg BASE_IMAGE="$base" --build-arg APP="$assembly" "${carried[@]}" -t "$name:$version" -f "$repo/deploy/docker/Dockerfile" "$context" >/dev/null
  echo "build-images: $name:$version in $((SECONDS - started)) s" >&2
}

build llmstack-api LlmStack.Api LlmStack.Api "$llama_cpp"
build llmstack-web LlmStack.Web LlmStack.Web
echo "$version"
