/**
 * `calicoctl` inside a node shell: a bash script (kubectl + jq + awk, which the node root has) that
 * reads Calico's CRD objects from the sandbox API server and prints them as calicoctl v3.22+ does:
 * `ipam show` (pool utilization; `--show-blocks` adds a row per block; `--show-borrowed` lists
 * addresses a node uses from a block another node holds; `--ip`, `--show-configuration`),
 * `get ippool|blockaffinity [-o wide|json|yaml]` and `version`. Anything else prints calicoctl's usage
 * and exits 1. Table formats follow calicoctl `commands/ipam/show.go` (go-pretty default style:
 * centered headers, IPS TOTAL right-aligned, `N (P%)` cells).
 *
 * Deviations: read-only (no create/apply/delete, no etcd datastore); `-o yaml` prints JSON (valid
 * YAML, the sandbox root has no YAML emitter); IPAM configuration shows Calico's defaults.
 *
 * Written with String.raw, so the script keeps its backslashes; it must contain no backtick and no
 * dollar-brace sequence. @CALICO_VERSION@ is replaced with the plan's Calico version.
 */
const SCRIPT = String.raw`#!/bin/bash
# calicoctl for Faultline sandboxes: the read-only subset a trainee needs to see Calico's IPAM
# (ipam show, get ippool/blockaffinity, version), read from the Calico CRDs through kubectl,
# printed in real calicoctl's table formats.
CLIENT_VERSION="@CALICO_VERSION@"
export LC_ALL=C

usage() {
  cat >&2 <<'USAGE'
Usage:
  calicoctl [options] <command> [<args>...]

    create       Create a resource by file, directory or stdin.
    replace      Replace a resource by file, directory or stdin.
    apply        Apply a resource by file, directory or stdin.  This creates a resource
                 if it does not exist, and replaces a resource if it does exists.
    patch        Patch a pre-exisiting resource in place.
    delete       Delete a resource identified by file, directory, stdin or resource type and
                 name.
    get          Get a resource identified by file, directory, stdin or resource type and
                 name.
    label        Add or update labels of resources.
    convert      Convert config files between different API versions.
    ipam         IP address management.
    node         Calico node management.
    version      Display the version of this binary.
    datastore    Calico datastore management.

Options:
  -h --help                    Show this screen.
  -l --log-level=<level>       Set the log level (one of panic, fatal, error,
                               warn, info, debug) [default: panic]
     --context=<context>       The name of the kubeconfig context to use.
     --allow-version-mismatch  Allow client and cluster versions mismatch.

Description:
  The calicoctl command line tool is used to manage Calico network and security
  policy, to view and manage endpoint configuration, and to manage a Calico
  node instance.

  See 'calicoctl <command> --help' to read about a specific subcommand.
USAGE
  exit 1
}

ipam_usage() {
  cat >&2 <<'USAGE'
Usage:
  calicoctl ipam show [--ip=<IP> | --show-blocks | --show-borrowed | --show-configuration]
                      [--config=<CONFIG>] [--allow-version-mismatch]

Options:
  -h --help                Show this screen.
     --ip=<IP>             Report whether this specific IP address is in use.
     --show-blocks         Show detailed information for IP blocks as well as pools.
     --show-borrowed       Show detailed information for "borrowed" IP addresses.
     --show-configuration  Show current Calico IPAM configuration.
  -c --config=<CONFIG>     Path to the file containing connection configuration in
                           YAML or JSON format.
                           [default: /etc/calico/calicoctl.cfg]
     --allow-version-mismatch  Allow client and cluster versions mismatch.

Description:
  The ipam show command prints information about a given IP address, or about
  overall IP usage.
USAGE
  exit 1
}

# Reads the Calico CRD objects of one kind as a JSON list.
fetch() {
  local out
  if ! out=$(kubectl get "$1.crd.projectcalico.org" -o json 2>&1); then
    echo "Failed to get resources: $out" >&2
    exit 1
  fi
  printf '%s\n' "$out"
}

# go-pretty's default table (as calicoctl renders): stdin is TSV, the first line the header.
# $1 has one letter per column: R right-aligns the column's cells, anything else left-aligns.
render() {
  awk -F'\t' -v al="$1" '
    { n = NR; if (NF > nc) nc = NF; for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
    function pad(k) { s = ""; while (k-- > 0) s = s " "; return s }
    function border(   i, s) { s = "+"; for (i = 1; i <= nc; i++) { s = s "-" ; for (k = 0; k < w[i]; k++) s = s "-"; s = s "-+" } print s }
    function line(r,   i, s, v, l, left) {
      s = "|"
      for (i = 1; i <= nc; i++) {
        v = c[r, i]; l = w[i] - length(v)
        if (r == 1) { left = int(l / 2); v = pad(left) v pad(l - left) }
        else if (substr(al, i, 1) == "R") v = pad(l) v
        else v = v pad(l)
        s = s " " v " |"
      }
      print s
    }
    END { border(); line(1); border(); if (n > 1) { for (r = 2; r <= n; r++) line(r); border() } }'
}

# IPv4 helpers for jq.
JQ_IP='def ip2int: split(".") | map(tonumber) | .[0] * 16777216 + .[1] * 65536 + .[2] * 256 + .[3];
def int2ip: [(. / 16777216 | floor) % 256, (. / 65536 | floor) % 256, (. / 256 | floor) % 256, . % 256] | map(tostring) | join(".");
def base: split("/")[0] | ip2int;
def size: pow(2; 32 - (split("/")[1] | tonumber));
def inuse: [.spec.allocations[] | select(. != null)] | length;
def owner: (.spec.affinity // "") | split(":") | if length == 2 then .[1] else .[0] end;'

ipam_utilization() {
  local show_blocks=$1 pools blocks
  pools=$(fetch ippools) || exit 1
  blocks=$(fetch ipamblocks) || exit 1
  jq -rn --argjson pools "$pools" --argjson blocks "$blocks" --arg sb "$show_blocks" "$JQ_IP"'
    def row($kind; $cidr; $cap; $used): [$kind, $cidr, $cap, $used] | map(tostring) | join("\t");
    def within($p): (.spec.cidr | base) as $b | ($p | base) as $pb | $b >= $pb and $b < $pb + ($p | size);
    ($pools.items | map(.spec.cidr)) as $cidrs
    | ($cidrs[] as $p
        | [$blocks.items[] | select(within($p))] as $in
        | row("IP Pool"; $p; $p | size; [$in[] | inuse] | add // 0),
          (if $sb == "1" then $in[] | row("Block"; .spec.cidr; .spec.cidr | size; inuse) else empty end)),
      (if $sb == "1" then $blocks.items[] | . as $blk | select(all($cidrs[]; . as $p | $blk | within($p) | not)) | row("Block"; .spec.cidr; .spec.cidr | size; inuse) else empty end)
  ' | awk -F'\t' 'BEGIN { OFS = "\t"; print "GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE" }
    { printf "%s\t%s\t%.5g\t%.5g (%.f%%)\t%.5g (%.f%%)\n", $1, $2, $3, $4, 100 * $4 / $3, $3 - $4, 100 * ($3 - $4) / $3 }' | render LLRLL
}

ipam_borrowed() {
  local blocks
  blocks=$(fetch ipamblocks) || exit 1
  jq -rn --argjson blocks "$blocks" "$JQ_IP"'
    [$blocks.items[] | . as $b | owner as $owner | ($b.spec.cidr | base) as $start
      | range(0; $b.spec.allocations | length) as $i
      | $b.spec.allocations[$i] | select(. != null)
      | ($b.spec.attributes[.].secondary // {}) as $a
      | if $a.node == null then "unclassified"
        elif $a.node != $owner then
          [($start + $i | int2ip), $a.node, $b.spec.cidr, $owner,
           (if $a.pod != null then "pod" else ($a.type // "") end),
           (if $a.pod != null then "\($a.namespace)/\($a.pod)" else "" end)] | join("\t")
        else empty end] as $rows
    | "IP\tBORROWING-NODE\tBLOCK\tBLOCK OWNER\tTYPE\tALLOCATED-TO",
      ($rows[] | select(. != "unclassified")),
      ([$rows[] | select(. == "unclassified")] | length | select(. > 0) | "#unclassified \(.)")
  ' >/tmp/.calicoctl.$$ || { rm -f /tmp/.calicoctl.$$; exit 1; }
  grep -v '^#unclassified ' /tmp/.calicoctl.$$ | render LLLLLL
  local un
  un=$(sed -n 's/^#unclassified //p' /tmp/.calicoctl.$$)
  rm -f /tmp/.calicoctl.$$
  if [ -n "$un" ]; then
    printf '\nNote: found %s IP allocations without an explicit node association. Unable to determine if they are borrowed.\n' "$un"
  fi
}

ipam_ip() {
  local ip=$1 blocks
  if ! [[ $ip =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "Invalid IP address specified." >&2
    exit 1
  fi
  blocks=$(fetch ipamblocks) || exit 1
  jq -rn --argjson blocks "$blocks" --arg ip "$ip" "$JQ_IP"'
    ($ip | ip2int) as $n
    | [$blocks.items[] | select(($n - (.spec.cidr | base)) as $o | $o >= 0 and $o < (.spec.cidr | size))] as $m
    | if ($m | length) == 0 then "\($ip) is not assigned"
      else $m[0] as $b | $b.spec.allocations[$n - ($b.spec.cidr | base)] as $x
        | if $x == null then "\($ip) is not assigned"
          else $b.spec.attributes[$x] as $a
            | "IP \($ip) is in use",
              "Handle ID: \($a.handle_id // "<none>")",
              (if (($a.secondary // {}) | length) == 0 then "No Active Owner attributes defined"
               else "Active Owner Attributes:", ($a.secondary | to_entries | sort_by(.key)[] | "  \(.key): \(.value)") end)
          end
      end'
}

ipam_configuration() {
  printf 'PROPERTY\tVALUE\nStrictAffinity\tfalse\nAutoAllocateBlocks\ttrue\nMaxBlocksPerHost\t0\n' | render LL
}

cmd_ipam() {
  [ "$1" = "show" ] || ipam_usage
  shift
  local blocks=0 borrowed=0 ip="" conf=0
  while [ $# -gt 0 ]; do
    case $1 in
      --show-blocks) blocks=1 ;;
      --show-borrowed) borrowed=1 ;;
      --show-configuration) conf=1 ;;
      --ip=*) ip=$(printf "%s" "$1" | sed "s/^--ip=//") ;;
      --ip) shift; ip=$1 ;;
      --allow-version-mismatch) ;;
      -c|--config) shift ;;
      --config=*) ;;
      *) ipam_usage ;;
    esac
    shift
  done
  if [ -n "$ip" ]; then ipam_ip "$ip"
  elif [ $borrowed = 1 ]; then ipam_borrowed
  elif [ $conf = 1 ]; then ipam_configuration
  else ipam_utilization $blocks
  fi
}

# calicoctl get's plain tables: tab-separated columns, padded like Go's tabwriter (3 spaces).
columns() {
  awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } if (NF > nc) nc = NF }
    END { for (r = 1; r <= NR; r++) { s = ""; for (i = 1; i <= nc; i++) { v = c[r, i]; if (i < nc) { while (length(v) < w[i] + 3) v = v " " } s = s v } sub(/ +$/, "", s); print s } }'
}

get_usage() {
  cat >&2 <<'USAGE'
Usage:
  calicoctl get ( (<KIND> [<NAME>...]) |
                --filename=<FILENAME>)
                [--output=<OUTPUT>] [--config=<CONFIG>] [--namespace=<NS>] [--all-namespaces] [--export] [--context=<context>] [--allow-version-mismatch]

Options:
  -h --help                    Show this screen.
  -o --output=<OUTPUT FORMAT>  Output format. One of: yaml, json, ps, wide,
                               custom-columns=..., go-template=...,
                               go-template-file=... [Default: ps]
USAGE
  exit 1
}

cmd_get() {
  local kind="" out=ps names=""
  while [ $# -gt 0 ]; do
    case $1 in
      -o|--output) shift; out=$1 ;;
      -o*) out=$(printf "%s" "$1" | sed "s/^-o//") ;;
      --output=*) out=$(printf "%s" "$1" | sed "s/^--output=//") ;;
      --allow-version-mismatch|--export|-A|--all-namespaces) ;;
      -h|--help) get_usage ;;
      -*) get_usage ;;
      *) if [ -z "$kind" ]; then kind=$1; else names="$names $1"; fi ;;
    esac
    shift
  done
  local plural
  case $(printf '%s' "$kind" | tr 'A-Z' 'a-z') in
    ippool|ippools|ipp|ipps|pool|pools) plural=ippools ;;
    blockaffinity|blockaffinities|blockaffinitys|blockaff|blockaffs) plural=blockaffinities ;;
    "") get_usage ;;
    *) echo "Failed to get resources: resource type '$kind' is not supported" >&2; exit 1 ;;
  esac
  local items
  items=$(fetch $plural) || exit 1
  case $out in
    yaml|json) ;;
    ps|wide) ;;
    *) echo "unrecognized output format '$out'" >&2; exit 1 ;;
  esac
  local sel
  sel=$(jq -n --argjson items "$items" --arg names "$names" '
    ($names | split(" ") | map(select(. != ""))) as $want
    | [$items.items[] | select(($want | length) == 0 or (.metadata.name as $n | $want | index($n)))]
    | map(.apiVersion = "projectcalico.org/v3" | .metadata |= (del(.annotations) | .resourceVersion //= "")) ')
  case $out in
    json)
      if [ -n "$names" ] && [ "$(jq length <<<"$sel")" = 1 ]; then jq '.[0]' <<<"$sel"
      else jq '{apiVersion: "projectcalico.org/v3", items: ., kind: (if $p == "ippools" then "IPPoolList" else "BlockAffinityList" end), metadata: {}}' --arg p $plural <<<"$sel"
      fi ;;
    yaml)
      # no YAML emitter in the sandbox: JSON is valid YAML
      jq '{apiVersion: "projectcalico.org/v3", items: ., kind: (if $p == "ippools" then "IPPoolList" else "BlockAffinityList" end), metadata: {}}' --arg p $plural <<<"$sel" ;;
    *)
      if [ $plural = ippools ]; then
        jq -r --arg w "$out" '
          (if $w == "wide" then ["NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "SELECTOR"] else ["NAME", "CIDR", "SELECTOR"] end | join("\t")),
          (.[] | if $w == "wide"
             then [.metadata.name, .spec.cidr, (.spec.natOutgoing // false), (.spec.ipipMode // "Never"), (.spec.vxlanMode // "Never"), (.spec.disabled // false), (.spec.disableBGPExport // false), (.spec.nodeSelector // "all()")]
             else [.metadata.name, .spec.cidr, (.spec.nodeSelector // "all()")] end | map(tostring) | join("\t"))' <<<"$sel" | columns
      else
        jq -r --arg w "$out" '
          (if $w == "wide" then ["NAME", "NODE", "CIDR", "STATE", "DELETED"] else ["NAME", "NODE", "CIDR", "STATE"] end | join("\t")),
          (.[] | [.metadata.name, .spec.node, .spec.cidr, .spec.state] + (if $w == "wide" then [.spec.deleted] else [] end) | map(tostring) | join("\t"))' <<<"$sel" | columns
      fi ;;
  esac
}

cmd_version() {
  local info cluster="" ctype=""
  echo "Client Version:    $CLIENT_VERSION"
  if info=$(kubectl get clusterinformations.crd.projectcalico.org default -o json 2>/dev/null); then
    cluster=$(jq -r '.spec.calicoVersion // ""' <<<"$info")
    ctype=$(jq -r '.spec.clusterType // ""' <<<"$info")
    echo "Cluster Version:   $cluster"
    echo "Cluster Type:      $ctype"
  else
    echo "Unable to retrieve Cluster Version or Type: connection is unauthorized: the server could not find the requested resource" >&2
    exit 1
  fi
}

while [ $# -gt 0 ]; do
  case $1 in
    --allow-version-mismatch) shift ;;
    -l|--log-level|--context) shift 2 ;;
    --log-level=*|--context=*) shift ;;
    *) break ;;
  esac
done

case $1 in
  ipam) shift; cmd_ipam "$@" ;;
  get) shift; cmd_get "$@" ;;
  version) cmd_version ;;
  *) usage ;;
esac
`;

/** The script for a sandbox whose Calico runs `calicoVersion` (e.g. v3.22.3). */
export function calicoctlScript(calicoVersion: string): string {
  return SCRIPT.replace("@CALICO_VERSION@", /^v\d+\.\d+\.\d+$/.test(calicoVersion) ? calicoVersion : "v3.22.3");
}
