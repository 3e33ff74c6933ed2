namespace LlmStack.AppHost.Proxy;

/// <summary>
/// <c>caddy/Caddyfile</c> for the compose deployment's <c>proxy</c> profile: one HTTPS site (the name in
/// <c>LLMSTACK_DOMAIN</c>, which Caddy reads from its environment) in front of the Web, with the OpenAI-compatible API
/// under <c>/v1</c>. Caddy gets the certificate itself - from Let's Encrypt for a public domain, from its own CA for
/// <c>localhost</c> or an IP address - and redirects plain HTTP to HTTPS. Valid for Caddy 2.6 and later.
/// </summary>
internal static class CaddyConfiguration
{
    /// <param name="domainVariable">The environment variable naming the site, and the site when it is unset.</param>
    /// <param name="web">The <c>host:port</c> of each of the Web's replicas on the compose network.</param>
    /// <param name="api">The <c>host:port</c> of each of the API's replicas on the compose network.</param>
    public static string Write(string domainVariable, string defaultDomain, IReadOnlyList<string> web, IReadOnlyList<string> api) => $$"""
        # Written by `dotnet run --project LlmStack.AppHost -- --publisher compose`; regenerate rather than edit.
        # The proxy profile's Caddy: HTTPS for the chat (/) and the OpenAI-compatible API (/v1), HTTP redirected to it.
        {
        	# Its own CA's root stays in /data; nothing is installed into the container's trust store (read-only anyway).
        	skip_install_trust
        	servers {
        		# HTTP/1.1 and HTTP/2 over TCP; the compose file publishes no UDP port for HTTP/3.
        		protocols h1 h2
        	}
        }

        {${{domainVariable}}:{{defaultDomain}}} {
        	# Prometheus scrapes the services on the compose network; their /metrics is not for the internet.
        	handle /metrics {
        		respond 404
        	}
        	handle /v1/* {
        		{{ReverseProxy(api)}}
        	}
        	handle {
        		{{ReverseProxy(web)}}
        	}
        }

        """;

    /// <summary>
    /// To one upstream, or balanced between replicas: to the one with the fewest requests in flight (a chat holds its
    /// replica for as long as it streams), and a replica that refuses connections is left out for a while.
    /// </summary>
    private static string ReverseProxy(IReadOnlyList<string> upstreams) => upstreams.Count == 1
        ? $"reverse_proxy {upstreams[0]}"
        : $$"""
            reverse_proxy {{string.Join(' ', upstreams)}} {
            			lb_policy least_conn
            			fail_duration 10s
            		}
            """;
}
