using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmStack.Benchmarks.Hosting;

/// <summary>
/// The API processes this process started, killed with it: whoever owns one disposes it, but a failed start, a test
/// that throws before its owner exists, or a run stopped with SIGTERM or Ctrl+C must not leave one listening on the
/// machine. (Only SIGKILL of this process escapes; nothing in it runs then.)
/// </summary>
public static class ChildProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
    }

    /// <summary>Starts <paramref name="start"/> and keeps the process until it exits or <see cref="Kill"/> ends it.</summary>
    public static Process Start(ProcessStartInfo start)
    {
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        Live[process.Id] = process;
        return process;
    }

    /// <summary>Kills the process and its children, if it still runs.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited (or was disposed) between the check and the kill.
        }
        Live.TryRemove(process.Id, out _);
    }

    /// <summary>How many started processes still run (what a test's cleanup leaves behind).</summary>
    public static int Running => Live.Values.Count(p => { try { return !p.HasExited; } catch (InvalidOperationException) { return false; } });

    private static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            Kill(process);
        }
    }
}
