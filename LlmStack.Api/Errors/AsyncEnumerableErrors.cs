using System.Runtime.CompilerServices;

namespace LlmStack.Api.Errors;

/// <summary>
/// C# cannot <c>yield</c> inside a <c>try</c> that has a <c>catch</c>, so a stream whose failures must be turned into
/// other exceptions needs a hand-written enumeration loop. This is that loop, written once.
/// </summary>
internal static class AsyncEnumerableErrors
{
    /// <summary>
    /// Enumerates <paramref name="source"/>; an exception for which <paramref name="map"/> returns another exception
    /// is replaced by it, any other (null, or the same instance) propagates as it is.
    /// </summary>
    public static async IAsyncEnumerable<T> MapErrors<T>(
        this IAsyncEnumerable<T> source, Func<Exception, Exception?> map, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var items = source.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await items.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (Exception ex) when (map(ex) is { } mapped && mapped != ex)
            {
                throw mapped;
            }
            yield return items.Current;
        }
    }
}
