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
    /// <param name="web">The Web's <c>host:port</c> on the compose network.</param>
    /// <param name="api">The API's <c>host:port</c> on the compose network.</param>
    public static string Write(string domainVariable, string defaultDomain, string web, string api) => $$"""
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
        		reverse_proxy {{api}}
        	}
        	handle {
        		reverse_proxy {{web}}
        	}
        }

        """;
}
