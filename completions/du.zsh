#compdef du
# zsh completion for du (Digital Utopia), through zsh's bash completion layer.
autoload -U +X bashcompinit && bashcompinit
_du() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" word candidate known words_here=""
    known=('admin' 'admin assets' 'admin assets add' 'admin assets list' 'admin audit' 'admin audit list' 'admin audit verify' 'admin bootstrap' 'admin dashboard' 'admin fx' 'admin fx import' 'admin fx set' 'admin instruments' 'admin instruments add' 'admin instruments halt' 'admin instruments list' 'admin instruments resume' 'admin instruments update' 'admin ledger' 'admin ledger expire-holds' 'admin ledger verify' 'admin settings' 'admin settings show' 'admin settings update' 'admin users' 'admin users list' 'admin users show' 'admin users update' 'auth' 'auth change-password' 'auth forgot-password' 'auth login' 'auth logout' 'auth mfa' 'auth mfa confirm' 'auth mfa disable' 'auth mfa enable' 'auth refresh' 'auth register' 'auth reset-password' 'auth sessions' 'auth sessions list' 'auth sessions revoke' 'auth verify' 'auth whoami' 'client' 'client onboarding' 'client onboarding complete' 'client onboarding status' 'client preferences' 'client preferences show' 'client preferences update' 'client profile' 'client profile show' 'client profile update' 'client settings' 'client settings show' 'client settings update' 'db' 'db start' 'db status' 'db stop' 'db upgrade' 'demo' 'financial' 'financial assets' 'financial balance' 'financial deposit' 'financial exchange' 'financial payments' 'financial payments cancel' 'financial payments history' 'financial payments process' 'financial payments status' 'financial rates' 'financial reports' 'financial transactions' 'financial withdraw' 'market' 'market analysis' 'market feeds' 'market history' 'market import' 'market prices' 'market serve' 'market simulate' 'market ticker' 'market trades' 'market watch' 'portfolio' 'portfolio analytics' 'portfolio holdings' 'portfolio holdings-update' 'portfolio overview' 'portfolio performance' 'portfolio rebalance' 'risk' 'risk exposure' 'risk metrics' 'risk mitigation' 'risk monitoring' 'risk scoring' 'trading' 'trading account' 'trading algorithms' 'trading cancel' 'trading close-position' 'trading market-data' 'trading modify' 'trading order' 'trading orderbook' 'trading orders' 'trading pairs' 'trading position' 'trading risk-assessment' 'trading rules' 'trading show' 'trading statistics' 'trading trades' 'tui' 'users' 'users activity' 'users list' 'users role' 'users show')
    for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        [[ "$word" == -* ]] && continue
        candidate="${path:+$path }$word"
        for k in "${known[@]}"; do
            if [[ "$k" == "$candidate" ]]; then path="$candidate"; break; fi
        done
    done
    case "$path" in
        '') words_here='admin auth client db demo financial market portfolio risk trading tui users --database-url --help --json --output --profile --version' ;;
        'admin') words_here='assets audit bootstrap dashboard fx instruments ledger settings users --help' ;;
        'admin assets') words_here='add list --help' ;;
        'admin assets add') words_here='--help --json --kind --name --output --precision' ;;
        'admin assets list') words_here='--help --json --output' ;;
        'admin audit') words_here='list verify --help' ;;
        'admin audit list') words_here='--action --actor --help --json --limit --outcome --output --page --since --target --until' ;;
        'admin audit verify') words_here='--help --json --output' ;;
        'admin bootstrap') words_here='--date-of-birth --email --full-name --help --json --nationality --output --password-stdin --phone' ;;
        'admin dashboard') words_here='--help --json --output' ;;
        'admin fx') words_here='import set --help' ;;
        'admin fx import') words_here='--help --json --output --url' ;;
        'admin fx set') words_here='--as-of --help --json --output' ;;
        'admin instruments') words_here='add halt list resume update --help' ;;
        'admin instruments add') words_here='--help --json --lot-size --max-quantity --min-notional --min-quantity --output --price-band --tick-size' ;;
        'admin instruments halt') words_here='--help --json --output' ;;
        'admin instruments list') words_here='--help --json --output' ;;
        'admin instruments resume') words_here='--help --json --output' ;;
        'admin instruments update') words_here='--help --json --lot-size --max-quantity --min-notional --min-quantity --output --price-band --tick-size' ;;
        'admin ledger') words_here='expire-holds verify --help' ;;
        'admin ledger expire-holds') words_here='--help --json --limit --output' ;;
        'admin ledger verify') words_here='--help --json --output' ;;
        'admin settings') words_here='show update --help' ;;
        'admin settings show') words_here='--help --json --output' ;;
        'admin settings update') words_here='--help --json --output' ;;
        'admin users') words_here='list show update --help' ;;
        'admin users list') words_here='--help --json --limit --output --page --role --search --status' ;;
        'admin users show') words_here='--help --json --output' ;;
        'admin users update') words_here='--help --json --kyc-level --notes --output --role --status --yes' ;;
        'auth') words_here='change-password forgot-password login logout mfa refresh register reset-password sessions verify whoami --help' ;;
        'auth change-password') words_here='--help --json --output --password-stdin' ;;
        'auth forgot-password') words_here='--email --help --json --output --phone' ;;
        'auth login') words_here='--email --help --insecure-storage --json --otp --output --password-stdin --phone' ;;
        'auth logout') words_here='--help --json --output' ;;
        'auth mfa') words_here='confirm disable enable --help' ;;
        'auth mfa confirm') words_here='--help --json --otp --output' ;;
        'auth mfa disable') words_here='--help --json --otp --output' ;;
        'auth mfa enable') words_here='--help --json --output' ;;
        'auth refresh') words_here='--help --json --output' ;;
        'auth register') words_here='--date-of-birth --email --full-name --help --json --nationality --output --password-stdin --phone --referral-code' ;;
        'auth reset-password') words_here='--help --json --output --password-stdin --token-stdin' ;;
        'auth sessions') words_here='list revoke --help' ;;
        'auth sessions list') words_here='--help --json --output' ;;
        'auth sessions revoke') words_here='--all-others --help --json --output' ;;
        'auth verify') words_here='--channel --code-stdin --help --json --output --resend --token' ;;
        'auth whoami') words_here='--help --json --output' ;;
        'client') words_here='onboarding preferences profile settings --help' ;;
        'client onboarding') words_here='complete status --help' ;;
        'client onboarding complete') words_here='--help --json --output --step' ;;
        'client onboarding status') words_here='--help --json --output' ;;
        'client preferences') words_here='show update --help' ;;
        'client preferences show') words_here='--help --json --output' ;;
        'client preferences update') words_here='--clear-goals --experience --goal --help --horizon-years --json --output --risk-tolerance --trading-style' ;;
        'client profile') words_here='show update --help' ;;
        'client profile show') words_here='--help --json --output' ;;
        'client profile update') words_here='--address-line --base-currency --city --country --date-of-birth --full-name --help --json --nationality --occupation --output --postal-code' ;;
        'client settings') words_here='show update --help' ;;
        'client settings show') words_here='--help --json --output' ;;
        'client settings update') words_here='--help --json --language --no-notify-email --no-notify-marketing --no-notify-price-alerts --no-notify-sms --no-notify-trades --notify-email --notify-marketing --notify-price-alerts --notify-sms --notify-trades --output --timezone' ;;
        'db') words_here='start status stop upgrade --help' ;;
        'db start') words_here='--help --json --output' ;;
        'db status') words_here='--help --json --output' ;;
        'db stop') words_here='--help --json --output' ;;
        'db upgrade') words_here='--help --json --output' ;;
        'demo') words_here='--duration --email --forever --help --insecure-storage --json --no-simulate --no-tui --output --password-stdin --quiet --rate --seed --tui --yes' ;;
        'financial') words_here='assets balance deposit exchange payments rates reports transactions withdraw --help' ;;
        'financial assets') words_here='--help --json --output' ;;
        'financial balance') words_here='--help --json --output' ;;
        'financial deposit') words_here='--amount --currency --help --idempotency-key --json --method --output --yes' ;;
        'financial exchange') words_here='--amount --from --help --idempotency-key --json --output --to --yes' ;;
        'financial payments') words_here='cancel history process status --help' ;;
        'financial payments cancel') words_here='--help --json --output' ;;
        'financial payments history') words_here='--currency --help --json --kind --limit --output --page --status' ;;
        'financial payments process') words_here='--fail --help --json --output --reason --reference --start' ;;
        'financial payments status') words_here='--help --json --output' ;;
        'financial rates') words_here='--base --help --json --output' ;;
        'financial reports') words_here='--currency --help --json --output --period --year' ;;
        'financial transactions') words_here='--currency --from --help --json --limit --output --page --to --type' ;;
        'financial withdraw') words_here='--amount --currency --destination --help --idempotency-key --json --method --output --yes' ;;
        'market') words_here='analysis feeds history import prices serve simulate ticker trades watch --help' ;;
        'market analysis') words_here='--from --help --json --lookback --output --series --to --with' ;;
        'market feeds') words_here='--help --json --output' ;;
        'market history') words_here='--from --help --interval --json --limit --output --to' ;;
        'market import') words_here='--csv --file --format --help --interval --json --output --source' ;;
        'market prices') words_here='--help --json --output' ;;
        'market serve') words_here='--help --host --port' ;;
        'market simulate') words_here='--duration --forever --help --json --makers --output --quiet --rate --seed --symbols --takers --volatility --workers' ;;
        'market ticker') words_here='--help --json --output' ;;
        'market trades') words_here='--help --json --limit --output' ;;
        'market watch') words_here='--count --depth --help --json --timeout --url' ;;
        'portfolio') words_here='analytics holdings holdings-update overview performance rebalance --help' ;;
        'portfolio analytics') words_here='--help --json --output --period' ;;
        'portfolio holdings') words_here='--help --json --output' ;;
        'portfolio holdings-update') words_here='--average-cost --currency --help --json --note --output --quantity --symbol' ;;
        'portfolio overview') words_here='--help --json --output' ;;
        'portfolio performance') words_here='--help --json --output --period' ;;
        'portfolio rebalance') words_here='--execute --help --idempotency-key --json --output --target --yes' ;;
        'risk') words_here='exposure metrics mitigation monitoring scoring --help' ;;
        'risk exposure') words_here='--all --help --json --output --top' ;;
        'risk metrics') words_here='--benchmark --from --help --json --lookback --output --periods-per-year --risk-free-rate --to' ;;
        'risk mitigation') words_here='--help --json --output' ;;
        'risk monitoring') words_here='--all --help --history --json --output' ;;
        'risk scoring') words_here='--help --json --output --user' ;;
        'trading') words_here='account algorithms cancel close-position market-data modify order orderbook orders pairs position risk-assessment rules show statistics trades --help' ;;
        'trading account') words_here='--help --json --output' ;;
        'trading algorithms') words_here='--help --json --output' ;;
        'trading cancel') words_here='--help --json --output' ;;
        'trading close-position') words_here='--help --idempotency-key --json --output --yes' ;;
        'trading market-data') words_here='--help --json --output' ;;
        'trading modify') words_here='--help --json --output --price --quantity' ;;
        'trading order') words_here='--client-order-id --help --idempotency-key --json --output --post-only --price --quantity --side --stop-price --stp --tif --type --yes' ;;
        'trading orderbook') words_here='--depth --help --json --output' ;;
        'trading orders') words_here='--help --json --limit --output --page --status --symbol' ;;
        'trading pairs') words_here='--help --json --output' ;;
        'trading position') words_here='--help --json --output' ;;
        'trading risk-assessment') words_here='--help --json --output' ;;
        'trading rules') words_here='--help --json --output' ;;
        'trading show') words_here='--help --json --output' ;;
        'trading statistics') words_here='--help --json --output --period' ;;
        'trading trades') words_here='--help --json --limit --output --page --symbol' ;;
        'tui') words_here='--feed --help --insecure-storage --json --output --symbol' ;;
        'users') words_here='activity list role show --help' ;;
        'users activity') words_here='--help --json --limit --output --page' ;;
        'users list') words_here='--help --json --limit --output --page --role --search --status' ;;
        'users role') words_here='--help --json --no-permissions --output --permission --role' ;;
        'users show') words_here='--help --json --output' ;;
    esac
    COMPREPLY=($(compgen -W "$words_here" -- "$cur"))
}
complete -o default -F _du du
