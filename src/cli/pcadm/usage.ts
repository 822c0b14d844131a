// `pcadm -h`: ipvsadm's usage, with what Portcullis does differently said plainly.
export const USAGE = `pcadm (Portcullis, ipvsadm-compatible; IPVS v1.2.1 output formats)
Usage:
  pcadm -A|E -t|u service-address [-s scheduler] [-p [timeout]] [-M netmask] [-j enable|disable]
  pcadm -D -t|u service-address
  pcadm -C
  pcadm -R
  pcadm -S [-n]
  pcadm -P|Q -t|u service-address -z local-address
  pcadm -G [-t|u service-address]
  pcadm -a|e -t|u service-address -r server-address [-b] [-w weight] [-x upper] [-y lower]
  pcadm -d -t|u service-address -r server-address
  pcadm -L|l [-t|u service-address] [options]
  pcadm -Z [-t|u service-address]
  pcadm -h

Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --add-laddr       -P        add local address
  --del-laddr       -Q        del local address
  --get-laddr       -G        get local address
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --help            -h        display this help message

Options:
  --tcp-service  -t service-address   service-address is host[:port]
  --udp-service  -u service-address   service-address is host[:port]
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|sed|nq|dh|sh|lblc|lblcr|mh|fo|ovf|twos,
                                      the default scheduler is wlc.
  --persistent   -p [timeout]         persistent service (default 300 s)
  --netmask      -M netmask           persistent granularity mask
  --synproxy     -j enable|disable    SYNPROXY for the service
  --ops          -o                   one-packet scheduling (UDP)
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --fullnat      -b                   fullnat mode (Portcullis's default; ipvsadm's is -g)
  --weight       -w weight            capacity of real server (0..65535, default 1)
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --laddr        -z local-address     local (FullNAT source) address
  --connection   -c                   output of current connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --numeric      -n                   numeric output of addresses and ports
  --socket PATH                       the daemon's unix socket (or PCADM_SOCKET)
  --server HOST:PORT                  the daemon's TCP listener (TLS), with:
  --token-file FILE                   bearer token (or PORTCULLIS_TOKEN) and/or
  --tls-cert FILE --tls-key FILE      a client certificate (mTLS)
  --tls-ca FILE                       CA that signed the daemon's certificate (default: system CAs)
  --tls-server-name NAME              name to check in the daemon's certificate (default: HOST)

Refused with a message: -f (no fwmark services), -g, -i, -m (FullNAT only), --set (timeouts
are set in the daemon's config). Names come from /etc/hosts and /etc/services only (never DNS).
`;
