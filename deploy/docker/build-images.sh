#!/usr/bin/env bash
# Builds the llmstack-api and llmstack-web images, tagged with LlmStack's version (Directory.Build.props):
# `dotnet publish -r linux-x64 --self-contained` on this machine, then deploy/docker/Dockerfile around the output.
# Needs the .NET SDK and Docker; no registry when deploy/docker/base-images.sh can make the base locally (it
# prints the base image to build FROM).
# Usage: deploy/docker/build-images.sh            prints the tag it built
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${LLMSTACK_DOCKER_CONTEXT:-$repo/artifacts/docker}

base=$("$repo/deploy/docker/base-images.sh")
version=$(dotnet msbuild "$repo/LlmStack.Api/LlmStack.Api.csproj" -getProperty:Version)

build() { # <image name> <project> <assembly>
  local name=$1 project=$2 assembly=$3 context="$out/$1" started=$SECONDS
  rm -rf "$context"
  dotnet publish "$repo/$project/$project.csproj" -c Release -r linux-x64 --self-contained \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$context/app" -nologo -v quiet >&2
  cp "$repo/deploy/docker/llmstack-probe" "$context/"
  docker build -q --build-arg BASE_IMAGE="$base" --build-arg APP="$assembly" -t "$name:$version" -f "$repo/deploy/docker/Dockerfile" "$context" >/dev/null
  echo "build-images: $name:$version in $((SECONDS - started)) s" >&2
}

build llmstack-api LlmStack.Api LlmStack.Api
build llmstack-web LlmStack.Web LlmStack.Web
echo "$version"
