using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LLama.Native;

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

    // When this thread last told llama.cpp to abort: the decode then logs its own failure ("failed to compute
    // graph", "failed to decode") on the same thread, which is the expected end of a cancel, not an error.
    [ThreadStatic]
    private static long t_abortedAt;

    /// <summary>True when llama.cpp was told to abort on this thread within the last second.</summary>
    public static bool AbortedRecentlyOnThisThread => t_abortedAt != 0 && Environment.TickCount64 - t_abortedAt < 1000;

    /// <summary>Makes <paramref name="context"/>'s decodes abort once <paramref name="cancellationToken"/> is cancelled, until disposed.</summary>
    public static IDisposable? Register(SafeLLamaContextHandle context, CancellationToken cancellationToken, ILogger? logger = null) =>
        cancellationToken.CanBeCanceled ? Register(context, () => cancellationToken.IsCancellationRequested, logger) : null;

    /// <summary>
    /// Makes <paramref name="context"/>'s decodes abort whenever <paramref name="shouldAbort"/> says so, until disposed.
    /// It is asked often during a decode, on llama.cpp's thread: it must be quick and must not throw.
    /// </summary>
    public static IDisposable? Register(SafeLLamaContextHandle context, Func<bool> shouldAbort, ILogger? logger = null)
    {
        if (s_unavailable)
        {
            return null;
        }
        var state = GCHandle.Alloc(shouldAbort);
        try
        {
            llama_set_abort_callback(context.DangerousGetHandle(), &ShouldAbort, (void*)GCHandle.ToIntPtr(state));
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
    private static byte ShouldAbort(void* data)
    {
        if (GCHandle.FromIntPtr((nint)data).Target is Func<bool> shouldAbort && shouldAbort())
        {
            t_abortedAt = Environment.TickCount64;
            return 1;
        }
        return 0;
    }

    [LibraryImport("llama")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    private static partial void llama_set_abort_callback(nint context, delegate* unmanaged[Cdecl]<void*, byte> callback, void* data);

    private sealed class Registration(SafeLLamaContextHandle context, GCHandle state) : IDisposable
    {
        public void Dispose()
        {
            // Detach before freeing the state the callback reads.
            if (!context.IsClosed)
            {
                llama_set_abort_callback(context.DangerousGetHandle(), null, null);
            }
            state.Free();
        }
    }
}
