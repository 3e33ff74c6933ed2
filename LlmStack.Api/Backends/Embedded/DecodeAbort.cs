using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LLama;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Lets a cancelled request interrupt llama.cpp in the middle of a decode (prompt processing of a large model
/// takes seconds per batch) through llama.cpp's abort callback, which LLamaSharp 0.30 does not expose.
/// </summary>
/// <remarks>
/// The import binds to the libllama that LLamaSharp already loaded (the loader matches its soname). Where
/// that fails, requests still stop between batches and tokens; the failure is remembered, not retried.
/// </remarks>
internal static unsafe partial class DecodeAbort
{
    private static bool s_unavailable;

    /// <summary>Makes <paramref name="context"/>'s decodes abort once <paramref name="cancellationToken"/> is cancelled, until disposed.</summary>
    public static IDisposable? Register(LLamaContext context, CancellationToken cancellationToken, ILogger? logger = null)
    {
        if (s_unavailable || !cancellationToken.CanBeCanceled)
        {
            return null;
        }
        var state = GCHandle.Alloc(new StrongBox<CancellationToken>(cancellationToken));
        try
        {
            llama_set_abort_callback(context.NativeHandle.DangerousGetHandle(), &ShouldAbort, (void*)GCHandle.ToIntPtr(state));
            return new Registration(context, state);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            state.Free();
            s_unavailable = true;
            logger?.LogWarning(ex, "llama.cpp's abort callback is unavailable; cancelled requests stop between batches only");
            return null;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte ShouldAbort(void* data) =>
        GCHandle.FromIntPtr((nint)data).Target is StrongBox<CancellationToken> { Value.IsCancellationRequested: true } ? (byte)1 : (byte)0;

    [LibraryImport("llama")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    private static partial void llama_set_abort_callback(nint context, delegate* unmanaged[Cdecl]<void*, byte> callback, void* data);

    private sealed class Registration(LLamaContext context, GCHandle state) : IDisposable
    {
        public void Dispose()
        {
            // Detach before freeing the state the callback reads.
            if (!context.NativeHandle.IsClosed)
            {
                llama_set_abort_callback(context.NativeHandle.DangerousGetHandle(), null, null);
            }
            state.Free();
        }
    }
}
