/* test_auth.c - keys, base64url, RS256 JWTs, claims, form bodies and OAuth
 * token replies.
 *
 * The keys below are test-only, made with the openssl CLI for this file
 * (the commands of shared/contracts/snowflake.md section 3.2):
 *   RSA_PKCS1       openssl genrsa -traditional 2048
 *   RSA_PKCS8       openssl pkcs8 -topk8 -nocrypt
 *   RSA_PKCS8_DES3  openssl pkcs8 -topk8 -v2 des3
 *   RSA_PKCS8_AES   openssl pkcs8 -topk8 -v2 aes-256-cbc
 *   RSA_PKCS1_ENC   openssl rsa -traditional -aes128
 * (passphrase "s3cret pass"), its public key, a self-signed certificate,
 * a 1024-bit RSA key, a P-256 key, an Ed25519 key and an RSA-PSS key.
 * RSA_FP is what the contract's pipeline printed for RSA_PUB:
 *   openssl rsa -pubin -outform DER | openssl dgst -sha256 -binary |
 *   openssl enc -base64
 * They guard nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sluice/auth.h"

#define PASS "s3cret pass"
#define RSA_FP "SHA256:dHtfQ9ZuwNz4exnptl8okgGmOkWRUI/BKr8Au3k6f/A="

static const char RSA_PKCS1[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAqW0TXI5U8x8W0W8aLmF2MKlmWzm84NzOiZ57DOSps1nmhbCT\n"
    "3iuiRJSEx9jfnMv3u8KCLDY7Ng08NH7gBn6QShKGZpas48K6rcAyxinsO9le7Nho\n"
    "eBSU00VRGQXJDKoFRkdSrAAcpAF2TDJBmnZdvX8XFEUYGKcfu47PwxDyq22+1xUq\n"
    "G6Nh5ILC1CBFX8bDPLL1VfzvWNV5bHaeWpiRTAU5xDMIhpwDlBThcrQ1qFBf29eZ\n"
    "Y1zZvZmR78lzPeohVxD1EZfsQxY48GKJPCsFuF0zdmQkV40UTPAsaFKz+TKjU5Ap\n"
    "WX3f28A84yVhUArZJO6C/7Vq26HS/+cQGI4RtQIDAQABAoIBAAPQgFyXmcMFgqqB\n"
    "cVn0+Me8sKDCKoX3grDngAa4yTdQAVgmMxYP7m3T2C91qwcpMnEoPm0HZYrgfmgC\n"
    "KUIMLGx2gU8i+k6AblqGFr6OaBKq4K+9aZC2iek9yMci8bVWyJqd9XcI45wvqj2p\n"
    "7f8vxgmDqH3c1l+Lt7Ot0fCm24fPfdBbtHwYOHO1/A4oOL60lFEsHBpY/MLZvV9z\n"
    "Hg0QbknO9N943NJm6xeRldIz+0MUQrdO797GG02o7LYfx9y9YEK6+QiM8YGTu3h/\n"
    "AO40tA6tdABq3qCt9H1arwXb4Opjy/lIlIsmvYHtNDQOfmuXlBQspj/eC0t2kxQc\n"
    "NhqUNWECgYEA4vbYYcVjpNJb7GqHBPSMkKkEBByg3d6fc5UTr5Ojf6Egi7fXb54I\n"
    "5sydWTyMducSeF6NBBDtvr2Ljz6hFZQJxX3069VJE4ngfjb32vGdP+zPEGo8vXWC\n"
    "Ade+koUTdi5nAKGyUYvxxxGRhYDT50/Rv7iE3cMTW72diowReJly1SUCgYEAvxnW\n"
    "GPZw6vlD8H/uoYFK2YcH0EQwESiUMeCroRqsqHwXqFXLXgvA6uZn76eSdDnSG/Yb\n"
    "ntP0xjLwBGsmzoWpAxWIsDnL2Aai8I561EBhe/3IJEjQjpsnaPsbJ3Tq9ZHDgTH8\n"
    "wY3/L9YeCaozNGmJv1U19JxEg58fsFjkNydCzVECgYAFxQSnJ59q1zYjAmpAQ/82\n"
    "xjUl7ZxhR4GCLK39bqFfYzcylg/R9JCBXX46gIGJnEIp8S1ghxWkHalokM0DgWnm\n"
    "LVeGjzt2VbDxRHB0jmPS9jAlWK4GmvAdH+DmVJ+0B2Xy7CleTVJuHxI19JpubOcG\n"
    "Gqi2AnmBgYZ5uSnQiQYUSQKBgFA8DMQWVHqThY7oZ8yveDm0k/dBad0KaI44glb1\n"
    "2CA1Wcl3nBc0YB8/9cuNU9QwoqLSxe39l/vPTy7LvlNfkwKUe/thiNB+mNLfP3r2\n"
    "PPfOKcXyPH5jbjyJkXETicLpHGiWEEVD1SzEfYAZUb5jwU3v/ONi6PFKUge8irUN\n"
    "auLBAoGBAMmgCjnfKlHRHRYHpCMFA3E+CeCYListbBqNbqc8FCYT71TUv+EClJrQ\n"
    "L1OQVdhm8Ho9O40TaxC0biiwah72wkYHRMzl8Pc1APv+plxgsY+GbLqQXn7jnLCw\n"
    "0zUHtANcVNr42H0qBOSpta+CHXtqUzApAuU2ikL2j+4KcxPcTmRY\n"
    "-----END RSA PRIVATE KEY-----\n";

static const char RSA_PKCS8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCpbRNcjlTzHxbR\n"
    "bxouYXYwqWZbObzg3M6JnnsM5KmzWeaFsJPeK6JElITH2N+cy/e7woIsNjs2DTw0\n"
    "fuAGfpBKEoZmlqzjwrqtwDLGKew72V7s2Gh4FJTTRVEZBckMqgVGR1KsABykAXZM\n"
    "MkGadl29fxcURRgYpx+7js/DEPKrbb7XFSobo2HkgsLUIEVfxsM8svVV/O9Y1Xls\n"
    "dp5amJFMBTnEMwiGnAOUFOFytDWoUF/b15ljXNm9mZHvyXM96iFXEPURl+xDFjjw\n"
    "Yok8KwW4XTN2ZCRXjRRM8CxoUrP5MqNTkClZfd/bwDzjJWFQCtkk7oL/tWrbodL/\n"
    "5xAYjhG1AgMBAAECggEAA9CAXJeZwwWCqoFxWfT4x7ywoMIqhfeCsOeABrjJN1AB\n"
    "WCYzFg/ubdPYL3WrBykycSg+bQdliuB+aAIpQgwsbHaBTyL6ToBuWoYWvo5oEqrg\n"
    "r71pkLaJ6T3IxyLxtVbImp31dwjjnC+qPant/y/GCYOofdzWX4u3s63R8Kbbh899\n"
    "0Fu0fBg4c7X8Dig4vrSUUSwcGlj8wtm9X3MeDRBuSc7033jc0mbrF5GV0jP7QxRC\n"
    "t07v3sYbTajsth/H3L1gQrr5CIzxgZO7eH8A7jS0Dq10AGreoK30fVqvBdvg6mPL\n"
    "+UiUiya9ge00NA5+a5eUFCymP94LS3aTFBw2GpQ1YQKBgQDi9thhxWOk0lvsaocE\n"
    "9IyQqQQEHKDd3p9zlROvk6N/oSCLt9dvngjmzJ1ZPIx25xJ4Xo0EEO2+vYuPPqEV\n"
    "lAnFffTr1UkTieB+Nvfa8Z0/7M8Qajy9dYIB176ShRN2LmcAobJRi/HHEZGFgNPn\n"
    "T9G/uITdwxNbvZ2KjBF4mXLVJQKBgQC/GdYY9nDq+UPwf+6hgUrZhwfQRDARKJQx\n"
    "4KuhGqyofBeoVcteC8Dq5mfvp5J0OdIb9hue0/TGMvAEaybOhakDFYiwOcvYBqLw\n"
    "jnrUQGF7/cgkSNCOmydo+xsndOr1kcOBMfzBjf8v1h4JqjM0aYm/VTX0nESDnx+w\n"
    "WOQ3J0LNUQKBgAXFBKcnn2rXNiMCakBD/zbGNSXtnGFHgYIsrf1uoV9jNzKWD9H0\n"
    "kIFdfjqAgYmcQinxLWCHFaQdqWiQzQOBaeYtV4aPO3ZVsPFEcHSOY9L2MCVYrgaa\n"
    "8B0f4OZUn7QHZfLsKV5NUm4fEjX0mm5s5wYaqLYCeYGBhnm5KdCJBhRJAoGAUDwM\n"
    "xBZUepOFjuhnzK94ObST90Fp3QpojjiCVvXYIDVZyXecFzRgHz/1y41T1DCiotLF\n"
    "7f2X+89PLsu+U1+TApR7+2GI0H6Y0t8/evY8984pxfI8fmNuPImRcROJwukcaJYQ\n"
    "RUPVLMR9gBlRvmPBTe/842Lo8UpSB7yKtQ1q4sECgYEAyaAKOd8qUdEdFgekIwUD\n"
    "cT4J4JguKy1sGo1upzwUJhPvVNS/4QKUmtAvU5BV2Gbwej07jRNrELRuKLBqHvbC\n"
    "RgdEzOXw9zUA+/6mXGCxj4ZsupBefuOcsLDTNQe0A1xU2vjYfSoE5Km1r4Ide2pT\n"
    "MCkC5TaKQvaP7gpzE9xOZFg=\n"
    "-----END PRIVATE KEY-----\n";

static const char RSA_PKCS8_DES3[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQIMId3BlW0b4kCAggA\n"
    "MAwGCCqGSIb3DQIJBQAwFAYIKoZIhvcNAwcECNjhxnqdaeZmBIIEyM6wSTx0j6s6\n"
    "8FD1GG2J5n2ypNsQAxBNyhTD05199fTu0drs46s/Y9a/DBX2Q29sBoMobz1P4b3p\n"
    "zkP2t+PFhYLI4FS7B0B5dluyBEx+1JrKnq3BrvKZnPt5b2xD+AnGAGh23WSGd60G\n"
    "dMorlyH+9YM23nZX76+F/zd8ce+j1jYDNweX8IAeezitlVramJk8ux36LqvV8fPF\n"
    "7GznPNMUnNx5GTcMAvv9wPlwiGQPJJ9XWk83z2yFq4lK7gqfPMfCozz9EmWWzYqi\n"
    "h2+pWFafnEBBNmAkqYkU059A2r5Wznea+1reIqfGlLxxUqU51gETXTCUQNu8ZsK5\n"
    "VPV6ipPuFhvKCwTaS0ymzBNmK694uyLawr0br3rs6UkkgzQdQz8eapgG3SZRrMpL\n"
    "t1MRDenwYgbBKv6iTEEgg8GAy3NjQjnkEkiBn7eUFDJ5ILzdzwqFSNCKRGEE5Rrf\n"
    "lqMjdJyNS+YFXBfpyeX6s/CnCRPWkvEokvpJ4LbD8zAp+u+GfDY9OrIOhjFpzDz8\n"
    "kliKACnfdjXm3KmDwlxlYWiFBGDqS6euqt2r4aRA4M0hSpjMbSFjqBdtAN4b8TA7\n"
    "LX2FsQtlNowt6zX+T0lfeDAUcmU3ZbjgFHj8mSkMWn9WAuHFiee1imj6+eSVMzmQ\n"
    "bR2l2167pxWtRC0TOkBcOGKNnIVujFs900cVKpaHvAj5r8KLIkU/3yB6aAwitHY/\n"
    "J57EXPkzOBIqG4h1mA3CmRed/inm+4hL5IMYQPcQGCgr3dho8x9n3DCJ8V5aeRtb\n"
    "/kUHHcLRYndj0nm3AmIbwVTZ1dnPgk5rOGfqdBXCAJr6X7q+dvQYu7bJRQGhF9ae\n"
    "zKIbngcHI8WvGzFQgTa61Po1q2pVD1s+GAoL5ooTTRSoic40OS0WvstKHBnT+7k/\n"
    "QTPJZ5qGUpyY3g5pUxjescAfqM0AmvN1r5I+JVsFJ66QNbHmBfAjAYm4Sh3LrmqE\n"
    "ahSrwtEvlPqy3rkMRfwhsSYYBKmi394H7R3p6t3mWIF9mjXdHeuhO3MZKbTzlbke\n"
    "jAMf3F48x54ajzHorV57RrBkRxVTQYtCwvcfuHm16IUNTPSTvZdY2r1Rx6A5VQjx\n"
    "VjzSa4EKoGcoULApVQJfpW7z72b6tmo8jZVGN3NpcP/RO3kGufrLlCIDuOUSO80Y\n"
    "MPzjr7BaFbv9loerTBW2bkDT+Jaaa00KmBrqJ+zpgBjsLS1DOBNcfPI9Zy0oLxhO\n"
    "stF28ftTne19R52LTT7wwkU6M7ffQVV65WuhiLoYEE6b9gB3eRpWkK4dsaXSpJ9G\n"
    "ItTXFYYrB+4/3vd3bRQWcCdVhz6zGfWDhgWfYDAL/M2uux6+NFr0xtmjIIH+L+Tu\n"
    "q/7uELjcx6+3USkCYm0XRosxY14QuDXJl7NkRcnYt3mdSLoGe4X7USoRDoWPDRsB\n"
    "kdWzqVmBXA3FRG+Nc1d/knW1hoIZ2qdsZjac0iVmIplTnKFTpWw5yBPpTqMPmwly\n"
    "BnhABijBMGmJBpZDgHpgfGhHkao6FH82kT3puK0mezcgZ3yhB+ZEDZtoWC9HdlqP\n"
    "O7GCi3rMvZmHz0n873bsyvEIeDh35nX19rmU4W3PJQEUKXyDtI1ECmspPQmB4f+K\n"
    "R2P3zSLkJrFtvfX6JV3bPA==\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static const char RSA_PKCS8_AES[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIIFLTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIaHolEQA0Tx4CAggA\n"
    "MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAEqBBAf7hV5KfT+pEB/bt0zqxDFBIIE\n"
    "0J1W08DvgAGToLDyz28TGyIfa5mKWx4NPRNGu4XwKYf5Sr86FfeLBHKZSEOfZYxn\n"
    "znB1IokliSKLLzY421gtF4d+gYZR0IZVAzkqLmlrF98AHWlFPOGqrOZJLbu6Rkyu\n"
    "6WCapS5KMcNYfM2QPyRSBtcTnnlUbsMzlmN+5NHZkIxDNHfoNw0Cwd9IIxwTaRKK\n"
    "yYri3ak4jaXfYdFrEfIy00oHLw+b93/FTlhjtB+IIru9DEirupJ2krA/46tXJtQF\n"
    "X1w2N5WOQTEXqQWzQZL5Oxnv1T+v0h5+0RdBc3uPHKPbweUDDeA+rM1KJ+A7SPm8\n"
    "x9cJUEDyR/rJsVObjuXrTLnfD8yhvhOmogODwAB7oHhDMVgUkNTngGcRhGWDEfIc\n"
    "9Pegdrr9cwDrfhWtE4yU9ePw9ujG67ZoCxIkFEvud+bRbtMxIoB6/kEuNeaqg+jk\n"
    "UDjLs90BV4PL/lnePhc9Ilnf1GAz/1/3hcm9lhNXqmac5s2tiOKP1aFDs7TJncZ4\n"
    "Iw8WtxighLeknIKXFMeFJdU+nfRZ3E4QV4azFPmUiTHJcc9B4Tit3rIAPEtscPEP\n"
    "HWL8kFna21Py54+DnsRXL+HTGtNjh+yz1GV1hKi+E8LIW63Qi5D508QBwQ4GWP4r\n"
    "duvjkWEs68zIN4+HodVQV6sIFymiKF1I+mjOy1MkV0+O/rN9sGd47opIoyrEZl9h\n"
    "veuGb24f2WNpffeYns/dP8dRDoFFj5ujjtVeQ5VSHnw3y27m3xdGL9l0RJXLLcbY\n"
    "SqlKfaQ9DaL7sLRXh71NXfDYz/i971nogRnLqAxKFWxvbDIZM+THVePgIXXQo/Yg\n"
    "7yMtuTM1xNIIsHhQ/8t5DpPmF6KNBvAEEjVK+M0YknTTJJglvCdnxz07i/N9ycIs\n"
    "nqRgtafrvwWMeMWuKjrJjJXdrPfV96fJzjWlrdK/7PtcNcDykuhilnmxNZupbWvb\n"
    "5LOqW56uH38rJgiugdWjLFGWKQvOjsmeyAw7GIbd7lwZItB+IFLYkSMbP0S9eUHh\n"
    "gPsNHkVC4bAfODAyP0GZU9TpOgrNWfT+xSszfeUp6GkiNH9sQCIxIh/bru63qSjz\n"
    "51eDkiEfRkT5SImhOAjo0KIOI1/7Hk82YvQO1my8WYT3x2nk2UKubFEID8Dp8mf2\n"
    "hMndTDH9JhblfqoSAngxD4P/9csAfSZf4RecmpQaiRFzUlNheHeqWp2Ta1qgWzqa\n"
    "YWDOOFwXIQs6yb1SM4V92QlvTtrlBsY3nyshuBmdOnKXtJir0yQmnqCau8y/FDG8\n"
    "b7uTIAsWjykimgaBuJ+gGI1v4arXjnBLu8lf2lioBU7bErWv/xI1BDvf+BWh6+x4\n"
    "pik+BdV+Yzvi2G6JBidRFeJb7XvIUMtX+2XOox9rw9NocxR/eFu/0t8NsVlRlmpH\n"
    "E1SuA8TO0OGlkH3VDghi+qUrv94VwfglcLcuqsVScE5Mr81GE4Nk/YflDaF2JOAW\n"
    "jha6xr8QIDiMfqTpK6v55qaAeLUTNh0XIre94Rzvk3kxBYcQ2EhuJ6Gzh9Jqac7k\n"
    "y5pQloBNIZNY0sKTA9P1BnOf9NSLaMQH7kFI5rVrk8dNJSbZEzZoBzJ2A8sm4ICs\n"
    "wmp92xvn7KErkB+psAs2b0m0iUqrJ4kiacVvA5pVaJHn\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static const char RSA_PKCS1_ENC[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,CFEDA467D89F3342B8C42B1CB00B055F\n"
    "\n"
    "R0b95NfOVyxjt2Mty88yZThalvUk/Hu0RzAaqCp5VqZAxnLbPSUxsAv2mYKY9k6V\n"
    "2Jw3izvDsmtde1KpjYVXqH15tqgigHcAaVtQxlcE/5tc4h4wUoIw4Sjt4hY9o5Jd\n"
    "79IncGC1IN2e+e7jlQV8mKfUOOctZPnvmwTqblsudb1IvGNoL/9/h17S4/ROnqnQ\n"
    "a2eKGHq7xVIyYe3P3aAKHrJWEKNnPE5K/Xazf4pWmn5YBKMLQxl17lk2GKD4TGkf\n"
    "4WM6y3S34TJteLMTT5qqSgNtYmMDqJhgcsCOpQfTs2BkwmHbdcHwc2q1ZGKOFWVa\n"
    "4pzmqYnCnHSUbsLQgTqlBS89wwiihGyNDG+q40bUWUr/scPYjyED+JLSAAWtoSOB\n"
    "ET9W8fm+LbfkptxeJ63lX6KGp/M3fgNzBF+up2Y2s6M62YUL0TpLuH7MakrgO/xH\n"
    "JxAk5keYRwXQ927FFTyrz3mVWzNWM+gnq1SC+sf7qfncTD06CnJEiSKDQppJVIDa\n"
    "OOfkbay2YaGEG4IrV8b5jX2+nfe9YdFByXUYvHEWvjg1fQXTFmNYpFxYhHYE4vz5\n"
    "Prz5A0UCgPNMtY4p8M5UqjIBg3XJDnYL2BcZlvXyb1xlRShZOtLIBGtNzxaHkxTz\n"
    "kBhHPJg567QgAQNpNbAnrJ0IVu6f9DM3nC/8bLrt64Rr2XKxmmmq4HpgACIN7Cn7\n"
    "qEx7bttgnL5FOUAnk2unhSwjrIyEz56W32LZLVVgRuU0nyBHUo5UYrhM+sry8/1U\n"
    "q9L93BqjbwIYwhtDoLXzamTCauyr7xdkUDMmSk6O+AjxqR7tGckzWVI2CWMhIzeg\n"
    "+peLDKgzDRR/uIDzKwY8iYyt/liewHhyUJf/870dsa47+KtIpnfgjEZGAbjXC43x\n"
    "w9mS2RaTetAFtXzsjkQNHWXjRGOIu/QlB4Sx8IkF65J4ZeaImpZhbsb/cJcbxal4\n"
    "l58+PLdIEkcMPqtOtfMzvfP45YOcbhXa5+Nu9Q+JvwLK5UAiTJjNxE3E05cPQl2e\n"
    "Mk/K/kGRMn3StVkRR/HA6gXNcl0GID7kPgadzqR9L2YJasngEvUjvBdLT7QX03ds\n"
    "8FajEY2lzk74mL4OqtdPZ9tQtQsOJ58YD0aI3NnW+iTObcPeKTS/f+m4dE1ksUlJ\n"
    "DdvBDdgq7vVJU4EMWMV1X2PdavEX5lwX3CmfTBHOaLtdgEf6IBmHGI7JjYmiEvRL\n"
    "aKDvLL7ul53+2jZOr/M5nvKRqnKRB0QMDEywchui9vBz6wujyFimvVYcfEKZ+oFY\n"
    "UTSG6RbBc/I71QuJnwIKbo9Q4gWt3yWRcZpTwiISn09g5aSQU7lB1ZLK01nbvxn/\n"
    "TaU8ZtJoPbmyFFyruc60eLER/ALW1+szxv3ZbUKE+xS6vqkhYDjDRbsuHRRivCkW\n"
    "BSDE+B0Ec42e6xC2vZVKehm+ehGGjbtphK7LYC7FWNlF6Qb0G02HYrKMSKmYjVy0\n"
    "dYaO4n+xt1KXJRWE5TeskIBtYBf0g14NY4uIDpAqeMImlucZbIQfyq55s8ybo61o\n"
    "FSMYqfpY7oP2ch5PYdFGusfGEbJd/jBG5I8zFQkhhHVP7b1SHYsnaf8qqh81FTUP\n"
    "-----END RSA PRIVATE KEY-----\n";

static const char RSA_PUB[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqW0TXI5U8x8W0W8aLmF2\n"
    "MKlmWzm84NzOiZ57DOSps1nmhbCT3iuiRJSEx9jfnMv3u8KCLDY7Ng08NH7gBn6Q\n"
    "ShKGZpas48K6rcAyxinsO9le7NhoeBSU00VRGQXJDKoFRkdSrAAcpAF2TDJBmnZd\n"
    "vX8XFEUYGKcfu47PwxDyq22+1xUqG6Nh5ILC1CBFX8bDPLL1VfzvWNV5bHaeWpiR\n"
    "TAU5xDMIhpwDlBThcrQ1qFBf29eZY1zZvZmR78lzPeohVxD1EZfsQxY48GKJPCsF\n"
    "uF0zdmQkV40UTPAsaFKz+TKjU5ApWX3f28A84yVhUArZJO6C/7Vq26HS/+cQGI4R\n"
    "tQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char RSA_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDATCCAemgAwIBAgIUOeO39EC4jbe/LuuYu2R486dkzMIwDQYJKoZIhvcNAQEL\n"
    "BQAwDzENMAsGA1UEAwwEdGVzdDAgFw0yNjExMjMwNDExMjVaGA8yMTI2MTAzMDA0\n"
    "MTEyNVowDzENMAsGA1UEAwwEdGVzdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC\n"
    "AQoCggEBAKltE1yOVPMfFtFvGi5hdjCpZls5vODczomeewzkqbNZ5oWwk94rokSU\n"
    "hMfY35zL97vCgiw2OzYNPDR+4AZ+kEoShmaWrOPCuq3AMsYp7DvZXuzYaHgUlNNF\n"
    "URkFyQyqBUZHUqwAHKQBdkwyQZp2Xb1/FxRFGBinH7uOz8MQ8qttvtcVKhujYeSC\n"
    "wtQgRV/Gwzyy9VX871jVeWx2nlqYkUwFOcQzCIacA5QU4XK0NahQX9vXmWNc2b2Z\n"
    "ke/Jcz3qIVcQ9RGX7EMWOPBiiTwrBbhdM3ZkJFeNFEzwLGhSs/kyo1OQKVl939vA\n"
    "POMlYVAK2STugv+1atuh0v/nEBiOEbUCAwEAAaNTMFEwHQYDVR0OBBYEFEkKg6W7\n"
    "mVe1WZQ5Ly9+PABWqwUMMB8GA1UdIwQYMBaAFEkKg6W7mVe1WZQ5Ly9+PABWqwUM\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAJ2G7IucWJJfjcuq\n"
    "pFwdkuPn6m3R1QX2Knbk+wyoiqq79qKcTzFIfRmzpIWoZglYf/Trut7YvoK+m8nv\n"
    "ZpgcT09/XdH5vug8cNY5bfrSM1ry9mueJHFOX73LndA/cUmiZZuHvt2hXdV65gB4\n"
    "EykwXBN+cpEArmrdOraj4opL/N7SSPo7Tvx/KPoHY1+qjm49orVJwOhHmGtINUkJ\n"
    "gaYNPqY6VUPyyc9Dzs267AqtiHr0Sd62Gi9NHobefrvAidWeLgiPPqf0Ujjhf8Qx\n"
    "8urlOsSeCpDjypCQ5hW2KmeV/q7E2HGKkhPr9oMz6SnoRIT0yy6b3z5Ug/bDYIu3\n"
    "f1K9w+4=\n"
    "-----END CERTIFICATE-----\n";

static const char RSA_1024[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBALLZo8NtVZyefcj0\n"
    "dw6fdogKLf+Uu93JTA1xdRDQS2J6HEjSxStx0xLVm1ilmZZRICfUejpOfbITcnMX\n"
    "zJ3DCzw5ds7KPUoua36Jg4uGk7Zud6TqDXTjXS5+jr/zNE4T/Sw2PJet9DZhY0by\n"
    "VQ/y/a2ADX9O5L/X7hdQs9iS6OwnAgMBAAECgYAKcDtnn4z8nB95SBNezh3L6NQw\n"
    "c4zXb/U5X6LWfWG4+KmH8o1BcN5B3ie378pcBJYc3QDZQFWDvDDU2NG/b2/LVgkO\n"
    "mxnuMlNbEntG6TPv1iahlOoj0l0za9UuIAPc3b2lMDcFJ94z8gRglVKSRl+JsDfj\n"
    "6077wqi1OhuHonYmAQJBAODz0g1Nm2YfLBC/nMOMXyb4ujQjYfgWEKt+h7xnekqb\n"
    "7VrHAc7fUVBj9zKCH7fDvUUS4P2r+xIMFPnQWi/WVScCQQDLiOakIxBHjvS3Yv6X\n"
    "d/pxsjOgLmzWMaWejS1bz+n3ZGVZq/kiHpyirZ56ExUcyVx4LfFtvVk+UnS7XS+u\n"
    "HREBAkAEPTQBIixCgWXgLuwyVyvX3SoNH3mSJkBMKwc9yqloTIXthwCGuHiczjVz\n"
    "UzZrzRl8+r0YqqwBjA69ImsAqcZTAkEAkDH3JMXqnKe828d4kxrfBXm4dX0ugjk+\n"
    "GqvuPKN6IFiyLOtXX0LMubvDEL1AMdq+di4mYxbIiQylwq/sPbA+AQJBAM44pio7\n"
    "JfbMhjZpSk13oWgiToDUljzZO9uFr+KzqvvNjarAMZlsvC0vsgNQCMHugzEaemx5\n"
    "4tJT7g1yflm+EV4=\n"
    "-----END PRIVATE KEY-----\n";

static const char EC_P256[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5IuhT59MEOhpl+Hj\n"
    "HNixDARZNsz9Phu1ehX0AA6DfsShRANCAAR2KfaVAwWgZoOPQLbKFG3rHGCAJM8E\n"
    "UDbRZyXGztXkl+fGnu4P/MnRpfn02RZNh5u903jh+7c4G1HBcq4nrXbG\n"
    "-----END PRIVATE KEY-----\n";

static const char ED25519[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJFQN2sanYxQb6O/+03Kmf3c8b8F8x3kwnBT77C7F5nX\n"
    "-----END PRIVATE KEY-----\n";

static const char RSA_PSS[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEuwIBADALBgkqhkiG9w0BAQoEggSnMIIEowIBAAKCAQEAwVDvjXSSGS5F0168\n"
    "YehTKjmMIG87mtin+F+Amv0uDQbEBbUufazGkenfdvcrqWRkUZgVuT5MSes/TMN7\n"
    "5Ds4/GNoafHWspcdQgdLqjmsA5VtUsPu/cVbXsoXzPX6mNVOSNIzudEJY+hqeAHQ\n"
    "gm4bMy4VEBCGjyh8HXZDmySju3fx6hA5PvWh90+ym6aRGQPZGkT9+1SuSV4hQCyv\n"
    "0133Qc9ijCvz5krm7VycC0ScL6iDd1DyDEmXi1qvkcRcWcHIUOCSNPt1583w6ize\n"
    "PiBDD8v53/o+xpLoKcbLkWthCihDpCdUW7vCM+MEcv9k4VitKEP5Cc2yLmLsQUVZ\n"
    "7OkxFwIDAQABAoIBABPvq4TEYidupOIo1vdR5PcUeuWtaFGOc7l4P+RmpSUlbs8X\n"
    "4Z+G/e4hAbFcdDLtQ4Xr+pw2rITDBK1/S3uSD/fCA2FJq4E8zFZO4k1qfS7cGNYm\n"
    "7AgHyRB8JFA4MzZ9E6xhi9a8lAyq9K/uSqPo2a1Bh103bGkUcm2nZfl4odoSAArQ\n"
    "UX9vUeX1S+QQjeFt7VPqBoDZnA/BJprsI+/7QLpN4u5GQe79dWxen69+GbXUmH8o\n"
    "olKja759nJsJS4r3E/A0J9nGLAc1Unp4suC0sMyG8YEEWlUlkbYvfEYVK2+fKDr3\n"
    "k0jlICPFlx5dvW0+VeXTNhm60RpBU6/CUkd/5IECgYEA4teHnOi0aSr0uQUlbdWG\n"
    "fAiyrRU0IziIjbU5oGc1FeYJI0Tcy04EDa/WDUuOUQLw/xzEhWvfecG8rq+TotOz\n"
    "+37uWNuuKiPigYw+Gedp/66JiIY8rH+3xQhTvYg1TMAsJDDeAWSW0AElpHNqcn8I\n"
    "pid5CV2RIWgaQbtfK6spRmcCgYEA2io0tpudcMH7dEI/nLLoH6M/MonnfaF6yJF2\n"
    "G72Z7ga6r4pu6shHFeAxtdvtGCtRAjd04mB2TGFG638IBcX+Faw3gxx4W3hQ4d17\n"
    "7CHm8RB245cICZv1FqprPBX7/mQl8erItWDH+zRKUg+o50LooS7PO1dbUMwM2PHZ\n"
    "YHA7MdECgYA1FQp/BVVyZsLtqO6hTR4zWDW3mwagV1JdFtNtXblmbnYk8rBYQuFf\n"
    "8o28frnG61FJ4Yl7T0r0SwnENwHtUG0FpSZRVNbktZEDj7XYifacBlPYxtDb7Ocs\n"
    "DE7MQ1t1omKx9V1+JfPEqQAOA5QdRuzXNNV2A5c6ognC5/3VUjBOcQKBgGEX7ZPj\n"
    "l+MqAe4Q2dy0ZshF0Ad/Bm6MImgHDOh1rn8XsZgUZR7KeZCL0bPdKBzcklYJNlTV\n"
    "l3CQzo5aX8iqAFXG6oHIduxGlMCg4NkLkYtxx2esvOAB78bhm44HPrpN+fE7i43l\n"
    "f7sV34m7/HDH/15UxdfkHfjMh18564OXD1ExAoGBAIceOcRrrtsKOXAtFjNeS643\n"
    "++7tiipibZiyWCAqQTUPnEm0fztjmyZuq2eHk8kpHGG+clixOpAEV9QBASloWWRd\n"
    "wo/InYfkx+uUaWWzENvoWjOy4GBDXsQVCdIpchv0aoCGJIKhyAtF+JFfcbYSesXm\n"
    "5cA3Zc3Zu4YdGRBIA1/V\n"
    "-----END PRIVATE KEY-----\n";

/* Something an OpenSSH-format key file starts with. */
static const char OPENSSH_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABFwAAAAdzc2gtcn\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

/* --- helpers -------------------------------------------------------------- */

static struct sluice_pkey *load_ok(const char *pem, const char *pass)
{
  struct sluice_error err = {0};
  struct sluice_pkey *k = NULL;
  int rc = sluice_pkey_load(pem, strlen(pem), pass, &k, &err);

  if (rc != 0)
    fail_msg("load failed: %s", err.message);
  assert_non_null(k);
  return k;
}

static void load_fails(const char *pem, const char *pass, const char *want)
{
  struct sluice_error err = {0};
  struct sluice_pkey *k = (struct sluice_pkey *)&err; /* must become NULL */

  assert_int_equal(sluice_pkey_load(pem, strlen(pem), pass, &k, &err),
                   SLUICE_EINVAL);
  assert_null(k);
  assert_int_equal(err.code, SLUICE_EINVAL);
  assert_int_equal(err.retryable, 0);
  if (strstr(err.message, want) == NULL)
    fail_msg("message '%s' lacks '%s'", err.message, want);
  /* Never the passphrase, never a piece of the key. */
  assert_null(strstr(err.message, PASS));
  assert_null(strstr(err.message, "MII"));
}

static const char *fingerprint(const struct sluice_pkey *k,
                               struct sluice_buf *b)
{
  sluice_buf_reset(b);
  assert_int_equal(sluice_pkey_fingerprint_sha256(k, b), 0);
  return b->data;
}

/* --- keys ----------------------------------------------------------------- */

static void test_pkey_forms(void **state)
{
  static const struct {
    const char *pem, *pass;
  } forms[] = {
      {RSA_PKCS1, NULL},
      {RSA_PKCS8, NULL},
      {RSA_PKCS8_DES3, PASS},
      {RSA_PKCS8_AES, PASS},
      {RSA_PKCS1_ENC, PASS},
      {RSA_PKCS8, "unused"}, /* a passphrase for a plain key is ignored */
  };
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    struct sluice_pkey *k = load_ok(forms[i].pem, forms[i].pass);

    assert_int_equal(sluice_pkey_bits(k), 2048);
    /* The same key in every form, and the fingerprint the openssl CLI
     * printed: Snowflake's RSA_PUBLIC_KEY_FP. */
    assert_string_equal(fingerprint(k, &b), RSA_FP);
    assert_int_equal(strlen(b.data), 7 + 44);
    sluice_pkey_free(k);
  }
  sluice_pkey_free(NULL);
  sluice_buf_free(&b);
}

static void test_pkey_public_pem(void **state)
{
  struct sluice_pkey *k = load_ok(RSA_PKCS8, NULL);
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(sluice_pkey_public_pem(k, &b), 0);
  assert_string_equal(b.data, RSA_PUB);
  sluice_buf_free(&b);
  sluice_pkey_free(k);
}

static void test_pkey_cert_beside_key(void **state)
{
  struct sluice_buf pem = SLUICE_BUF_INIT, b = SLUICE_BUF_INIT;
  struct sluice_pkey *k;

  (void)state;
  /* A certificate first and the key after it, as some tools write. */
  assert_int_equal(sluice_buf_append_str(&pem, RSA_CERT), 0);
  assert_int_equal(sluice_buf_append_str(&pem, RSA_PKCS8), 0);
  k = load_ok(pem.data, NULL);
  assert_string_equal(fingerprint(k, &b), RSA_FP);
  sluice_pkey_free(k);
  sluice_buf_free(&pem);
  sluice_buf_free(&b);
}

static void test_pkey_errors(void **state)
{
  char damaged[sizeof RSA_PKCS8];
  char *mid;

  (void)state;
  load_fails(RSA_PKCS8_DES3, NULL,
             "the key is encrypted: a passphrase is needed");
  load_fails(RSA_PKCS8_AES, NULL,
             "the key is encrypted: a passphrase is needed");
  load_fails(RSA_PKCS1_ENC, NULL,
             "the key is encrypted: a passphrase is needed");
  load_fails(RSA_PKCS8_DES3, "wrong", "wrong passphrase, or a damaged key");
  load_fails(RSA_PKCS8_AES, "", "wrong passphrase, or a damaged key");
  load_fails(RSA_PKCS1_ENC, "s3cret pasS",
             "wrong passphrase, or a damaged key");
  load_fails(RSA_CERT, NULL,
             "not a private key (a certificate or public key?)");
  load_fails(RSA_PUB, PASS, "not a private key (a certificate or public key?)");
  load_fails("hello", NULL, "no PEM private key found");
  load_fails("", NULL, "no PEM private key found");
  load_fails(EC_P256, NULL, "not an RSA key (EC)");
  load_fails(ED25519, NULL, "not an RSA key (ED25519)");
  load_fails(RSA_PSS, NULL, "not an RSA key (RSA-PSS)");
  load_fails(RSA_1024, NULL, "key is shorter than 2048 bits (1024)");
  load_fails(OPENSSH_KEY, NULL, "an OpenSSH private key");

  /* Damaged base64 in the middle of the key. */
  memcpy(damaged, RSA_PKCS8, sizeof damaged);
  mid = damaged + sizeof damaged / 2;
  memcpy(mid, "!!!!", 4);
  load_fails(damaged, NULL, "a damaged or unsupported private key");
  /* Cut short. */
  damaged[sizeof damaged / 2] = '\0';
  load_fails(damaged, NULL, "a damaged or unsupported private key");
}

static void test_pkey_keeps_openssl_errors(void **state)
{
  struct sluice_error err = {0};
  struct sluice_pkey *k = NULL;
  unsigned long before;

  (void)state;
  ERR_clear_error();
  ERR_raise(ERR_LIB_USER, 42);
  before = ERR_peek_last_error();
  assert_int_equal(sluice_pkey_load(RSA_PKCS8_DES3, strlen(RSA_PKCS8_DES3),
                                    "wrong", &k, &err),
                   SLUICE_EINVAL);
  assert_int_equal(
      sluice_pkey_load(RSA_PKCS8, strlen(RSA_PKCS8), NULL, &k, &err), 0);
  /* The caller's entry is still the last one; none of ours is left. */
  assert_int_equal(ERR_peek_last_error(), before);
  ERR_clear_error();
  sluice_pkey_free(k);
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
  FILE *f = fopen(path, "wb");

  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_pkey_files(void **state)
{
  char dir[] = "/tmp/sluice-test-auth-XXXXXX";
  char path[128], big[128], missing[128];
  struct sluice_error err = {0};
  struct sluice_buf b = SLUICE_BUF_INIT;
  struct sluice_pkey *k = NULL;
  char *blob;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/key.p8", dir);
  snprintf(big, sizeof big, "%s/big.pem", dir);
  snprintf(missing, sizeof missing, "%s/none.pem", dir);

  write_file(path, RSA_PKCS8_AES, strlen(RSA_PKCS8_AES), 0600);
  assert_int_equal(sluice_pkey_file_mode_ok(path), 1);
  assert_int_equal(sluice_pkey_load_file(path, PASS, &k, &err), 0);
  assert_string_equal(fingerprint(k, &b), RSA_FP);
  sluice_pkey_free(k);

  /* The messages start with the path. */
  assert_int_equal(sluice_pkey_load_file(path, NULL, &k, &err), SLUICE_EINVAL);
  assert_null(k);
  assert_true(strncmp(err.message, path, strlen(path)) == 0);
  assert_non_null(strstr(err.message, ": the key is encrypted"));

  /* Readable by others: still loads, and the host can warn. */
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(sluice_pkey_file_mode_ok(path), 0);
  assert_int_equal(chmod(path, 0640), 0);
  assert_int_equal(sluice_pkey_file_mode_ok(path), 0);
  assert_int_equal(chmod(path, 0400), 0);
  assert_int_equal(sluice_pkey_file_mode_ok(path), 1);
  assert_int_equal(sluice_pkey_load_file(path, PASS, &k, &err), 0);
  sluice_pkey_free(k);

  assert_int_equal(sluice_pkey_file_mode_ok(missing), SLUICE_ENOTFOUND);
  assert_int_equal(sluice_pkey_load_file(missing, NULL, &k, &err),
                   SLUICE_ENOTFOUND);
  assert_true(strncmp(err.message, missing, strlen(missing)) == 0);

  assert_int_equal(sluice_pkey_load_file(dir, NULL, &k, &err), SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "not a regular file"));

  /* Exactly the limit is read; one byte more is refused. */
  blob = calloc(1, SLUICE_PKEY_FILE_MAX + 1);
  assert_non_null(blob);
  memcpy(blob, RSA_PKCS8, strlen(RSA_PKCS8));
  memset(blob + strlen(RSA_PKCS8), '\n',
         SLUICE_PKEY_FILE_MAX - strlen(RSA_PKCS8));
  write_file(big, blob, SLUICE_PKEY_FILE_MAX, 0600);
  assert_int_equal(sluice_pkey_load_file(big, NULL, &k, &err), 0);
  sluice_pkey_free(k);
  write_file(big, blob, SLUICE_PKEY_FILE_MAX + 1, 0600);
  assert_int_equal(sluice_pkey_load_file(big, NULL, &k, &err), SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "larger than 65536 bytes"));
  free(blob);

  unlink(path);
  unlink(big);
  rmdir(dir);
  sluice_buf_free(&b);
}

/* --- base64url ------------------------------------------------------------ */

static void test_base64url_vectors(void **state)
{
  /* RFC 4648 section 10, unpadded; and bytes that use '-' and '_'. */
  static const struct {
    const char *raw, *enc;
  } v[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {"\xfb\xff\xbf", "-_-_"},
      {"\xff\xfe", "__4"},
  };
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    sluice_buf_reset(&b);
    assert_int_equal(sluice_base64url_encode(v[i].raw, strlen(v[i].raw), &b),
                     0);
    assert_string_equal(sluice_buf_cstr(&b), v[i].enc);
    sluice_buf_reset(&b);
    assert_int_equal(sluice_base64url_decode(v[i].enc, strlen(v[i].enc), &b),
                     0);
    assert_int_equal(b.len, strlen(v[i].raw));
    assert_memory_equal(sluice_buf_cstr(&b), v[i].raw, b.len);
  }
  /* Padding is accepted when right. */
  sluice_buf_reset(&b);
  assert_int_equal(sluice_base64url_decode("Zm8=", 4, &b), 0);
  assert_string_equal(b.data, "fo");
  sluice_buf_reset(&b);
  assert_int_equal(sluice_base64url_decode("Zg==", 4, &b), 0);
  assert_string_equal(b.data, "f");
  sluice_buf_free(&b);
}

static void test_base64url_rejects(void **state)
{
  static const char *bad[] = {
      "Z",     "Zm9vY", "Zm9v+A", "Zm9v/A", "Zm 9v", "Zg=", "Zg===",
      "Zm8==", "Zm9v=", "=",      "Zm=8",   "Zh",    "Zm9", "Zm8\n",
  };
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i;

  (void)state;
  assert_int_equal(sluice_buf_append_str(&b, "keep"), 0);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (sluice_base64url_decode(bad[i], strlen(bad[i]), &b) != SLUICE_EINVAL)
      fail_msg("accepted '%s'", bad[i]);
    /* Left as it was, terminator included. */
    assert_string_equal(b.data, "keep");
  }
  sluice_buf_free(&b);
}

static void test_base64url_roundtrip(void **state)
{
  struct sluice_buf enc = SLUICE_BUF_INIT, dec = SLUICE_BUF_INIT;
  unsigned char raw[300];
  uint64_t x = 0x9e3779b97f4a7c15u;
  size_t n, i;

  (void)state;
  for (n = 0; n < sizeof raw; n++) {
    for (i = 0; i < n; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      raw[i] = (unsigned char)x;
    }
    sluice_buf_reset(&enc);
    sluice_buf_reset(&dec);
    assert_int_equal(sluice_base64url_encode(raw, n, &enc), 0);
    assert_int_equal(enc.len, (n * 4 + 2) / 3);
    assert_null(memchr(sluice_buf_cstr(&enc), '=', enc.len));
    assert_int_equal(sluice_base64url_decode(enc.data, enc.len, &dec), 0);
    assert_int_equal(dec.len, n);
    if (n > 0)
      assert_memory_equal(dec.data, raw, n);
  }
  sluice_buf_free(&enc);
  sluice_buf_free(&dec);
}

/* --- JWT ------------------------------------------------------------------ */

/* Checks jwt against the public key with OpenSSL alone, and returns the
 * decoded header and claims. */
static int verify_rs256(const char *jwt, const char *pub_pem,
                        struct sluice_buf *header, struct sluice_buf *claims)
{
  const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  struct sluice_buf sig = SLUICE_BUF_INIT;
  BIO *bio = BIO_new_mem_buf(pub_pem, -1);
  EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok;

  assert_non_null(d2);
  assert_null(strchr(d2 + 1, '.'));
  assert_non_null(pub);
  assert_int_equal(sluice_base64url_decode(jwt, (size_t)(d1 - jwt), header), 0);
  assert_int_equal(
      sluice_base64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), claims), 0);
  assert_int_equal(sluice_base64url_decode(d2 + 1, strlen(d2 + 1), &sig), 0);
  assert_int_equal(sig.len, 256); /* 2048-bit RSA */
  assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
  ok = EVP_DigestVerify(ctx, (const unsigned char *)sig.data, sig.len,
                        (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  BIO_free(bio);
  sluice_buf_free(&sig);
  ERR_clear_error();
  return ok;
}

static void test_jwt_sign_verify(void **state)
{
  static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
  static const char claims[] = "{\"iss\":\"a\",\"sub\":\"b\",\"exp\":1}";
  struct sluice_buf jwt = SLUICE_BUF_INIT, again = SLUICE_BUF_INIT;
  struct sluice_buf h = SLUICE_BUF_INIT, c = SLUICE_BUF_INIT;
  struct sluice_error err = {0};
  struct sluice_pkey *k = load_ok(RSA_PKCS1, NULL);
  char *tampered;

  (void)state;
  assert_int_equal(sluice_jwt_sign_rs256(k, header, claims, &jwt, &err), 0);
  /* The first two parts are the JSON texts byte for byte (python's
   * base64.urlsafe_b64encode, '=' stripped). */
  assert_true(strncmp(jwt.data,
                      "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
                      "eyJpc3MiOiJhIiwic3ViIjoiYiIsImV4cCI6MX0.",
                      77) == 0);
  assert_true(verify_rs256(jwt.data, RSA_PUB, &h, &c));
  assert_string_equal(h.data, header);
  assert_string_equal(c.data, claims);

  /* PKCS#1 v1.5 is deterministic: the same input signs the same. */
  assert_int_equal(sluice_jwt_sign_rs256(k, header, claims, &again, &err), 0);
  assert_string_equal(again.data, jwt.data);

  /* A changed claim no longer verifies. */
  tampered = strdup(jwt.data);
  assert_non_null(tampered);
  tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
  sluice_buf_reset(&h);
  sluice_buf_reset(&c);
  assert_false(verify_rs256(tampered, RSA_PUB, &h, &c));
  free(tampered);

  /* Appends, after what out held. */
  sluice_buf_reset(&again);
  assert_int_equal(sluice_buf_append_str(&again, "Bearer "), 0);
  assert_int_equal(sluice_jwt_sign_rs256(k, header, claims, &again, &err), 0);
  assert_string_equal(again.data + 7, jwt.data);

  assert_int_equal(sluice_jwt_sign_rs256(k, NULL, claims, &again, &err),
                   SLUICE_EINVAL);
  sluice_pkey_free(k);
  sluice_buf_free(&jwt);
  sluice_buf_free(&again);
  sluice_buf_free(&h);
  sluice_buf_free(&c);
}

/* --- claims --------------------------------------------------------------- */

static void test_salesforce_claims(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  assert_int_equal(sluice_jwt_salesforce_claims(
                       "3MVG9abc.def", "integration@example.com",
                       "https://login.salesforce.com", 1700000000, &b),
                   0);
  /* exp is 3 minutes ahead; '/' is not escaped. */
  assert_string_equal(b.data, "{\"iss\":\"3MVG9abc.def\","
                              "\"sub\":\"integration@example.com\","
                              "\"aud\":\"https://login.salesforce.com\","
                              "\"exp\":1700000180}");
  sluice_buf_reset(&b);
  assert_int_equal(sluice_jwt_salesforce_claims("c\"q", "u", "a", 0, &b), 0);
  assert_string_equal(b.data, "{\"iss\":\"c\\\"q\",\"sub\":\"u\",\"aud\":\"a\","
                              "\"exp\":180}");
  assert_int_equal(sluice_jwt_salesforce_claims("", "u", "a", 0, &b),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_jwt_salesforce_claims("c", NULL, "a", 0, &b),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_jwt_salesforce_claims("c", "u\xff", "a", 0, &b),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_jwt_salesforce_claims("c", "u", "a", INT64_MAX, &b),
                   SLUICE_EINVAL);
  sluice_buf_free(&b);
}

static void test_snowflake_account(void **state)
{
  /* Contract snowflake.md section 3.1 examples, then the other forms the
   * drivers handle. */
  static const struct {
    const char *in, *out;
  } ok[] = {
      {"xy12345.us-east-2.aws", "XY12345"},
      {"myorg-myaccount", "MYORG-MYACCOUNT"},
      {"MYORG-MYACCOUNT", "MYORG-MYACCOUNT"},
      {"xy12345", "XY12345"},
      {"xy12345.us-east-1", "XY12345"},
      {"xy12345.eu-central-1.aws", "XY12345"},
      {"xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"},
      {"xy12345.east-us-2.azure.privatelink", "XY12345"},
      {"myorg-myaccount.snowflakecomputing.com", "MYORG-MYACCOUNT"},
      {"myorg-myaccount.privatelink", "MYORG-MYACCOUNT"},
      {"myorg-my_account", "MYORG-MY_ACCOUNT"},
      {"myorg-my-account", "MYORG-MY-ACCOUNT"},
      {"xy12345-abcdefg.global", "XY12345"},
      {"xy12345-abcdefg.global.snowflakecomputing.com", "XY12345"},
      {"myorg-myaccount-abcdefg.global", "MYORG-MYACCOUNT"},
      {"Xy12345-abc.GLOBAL", "XY12345"},
      {"xy12345.globalx", "XY12345"},
      {"a", "A"},
  };
  static const char *bad[] = {
      "",         ".us-east-2",        "https://xy12345.aws", "xy 12345",
      "xy12345/", "\xc3\xa9t\xc3\xa9", "-abc.global",         "xy\"1",
  };
  struct sluice_buf b = SLUICE_BUF_INIT;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    sluice_buf_reset(&b);
    assert_int_equal(sluice_snowflake_account_for_jwt(ok[i].in, &b), 0);
    if (strcmp(b.data, ok[i].out) != 0)
      fail_msg("'%s' -> '%s', want '%s'", ok[i].in, b.data, ok[i].out);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sluice_buf_reset(&b);
    if (sluice_snowflake_account_for_jwt(bad[i], &b) != SLUICE_EINVAL)
      fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(b.len, 0);
  }
  assert_int_equal(sluice_snowflake_account_for_jwt(NULL, &b), SLUICE_EINVAL);
  sluice_buf_free(&b);
}

static void test_snowflake_claims(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;
  struct sluice_error err = {0};

  (void)state;
  /* The contract's example: iat 1791499200, exp 59 minutes later. */
  assert_int_equal(sluice_jwt_snowflake_claims("myorg-myaccount", "svc_user",
                                               RSA_FP, 1791499200, 3540, &b,
                                               &err),
                   0);
  assert_string_equal(b.data,
                      "{\"iss\":\"MYORG-MYACCOUNT.SVC_USER." RSA_FP "\","
                      "\"sub\":\"MYORG-MYACCOUNT.SVC_USER\","
                      "\"iat\":1791499200,\"exp\":1791502740}");

  /* A locator with its region, the fingerprint without its prefix, a login
   * name with a dot and an '@'. */
  sluice_buf_reset(&b);
  assert_int_equal(sluice_jwt_snowflake_claims("xy12345.us-east-2.aws",
                                               "john.doe@example.com",
                                               &RSA_FP[7], 100, 3600, &b, &err),
                   0);
  assert_string_equal(b.data,
                      "{\"iss\":\"XY12345.JOHN.DOE@EXAMPLE.COM." RSA_FP "\","
                      "\"sub\":\"XY12345.JOHN.DOE@EXAMPLE.COM\","
                      "\"iat\":100,\"exp\":3700}");

  sluice_buf_reset(&b);
  assert_int_equal(
      sluice_jwt_snowflake_claims("a", "u", RSA_FP, 0, 3601, &b, &err),
      SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "lifetime 3601 s"));
  assert_int_equal(
      sluice_jwt_snowflake_claims("a", "u", RSA_FP, 0, 0, &b, &err),
      SLUICE_EINVAL);
  assert_int_equal(
      sluice_jwt_snowflake_claims("a", "u", "SHA256:abc", 0, 60, &b, &err),
      SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "fingerprint"));
  /* The last character before '=' must leave its unused bits zero. */
  assert_int_equal(sluice_jwt_snowflake_claims(
                       "a", "u",
                       "SHA256:dHtfQ9ZuwNz4exnptl8okgGmOkWRUI/BKr8Au3k6f/B=", 0,
                       60, &b, &err),
                   SLUICE_EINVAL);
  assert_int_equal(sluice_jwt_snowflake_claims("https://x.snowflake", "u",
                                               RSA_FP, 0, 60, &b, &err),
                   SLUICE_EINVAL);
  assert_non_null(strstr(err.message, "https://x.snowflake"));
  assert_int_equal(
      sluice_jwt_snowflake_claims("a", "", RSA_FP, 0, 60, &b, &err),
      SLUICE_EINVAL);
  assert_int_equal(b.len, 0);
  sluice_buf_free(&b);
}

static void test_snowflake_jwt_end_to_end(void **state)
{
  struct sluice_buf fp = SLUICE_BUF_INIT, claims = SLUICE_BUF_INIT;
  struct sluice_buf jwt = SLUICE_BUF_INIT, h = SLUICE_BUF_INIT;
  struct sluice_buf c = SLUICE_BUF_INIT;
  struct sluice_error err = {0};
  struct sluice_pkey *k = load_ok(RSA_PKCS8_DES3, PASS);

  (void)state;
  assert_int_equal(sluice_pkey_fingerprint_sha256(k, &fp), 0);
  assert_int_equal(sluice_jwt_snowflake_claims("myorg-acct", "loader", fp.data,
                                               1000, 60, &claims, &err),
                   0);
  assert_int_equal(sluice_jwt_sign_rs256(k,
                                         "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                                         claims.data, &jwt, &err),
                   0);
  assert_true(verify_rs256(jwt.data, RSA_PUB, &h, &c));
  assert_string_equal(c.data, claims.data);
  sluice_pkey_free(k);
  sluice_buf_free(&fp);
  sluice_buf_free(&claims);
  sluice_buf_free(&jwt);
  sluice_buf_free(&h);
  sluice_buf_free(&c);
}

/* --- form bodies ---------------------------------------------------------- */

static void test_form(void **state)
{
  struct sluice_buf b = SLUICE_BUF_INIT;

  (void)state;
  /* The contract's JWT bearer body (salesforce.md 1.2). */
  assert_int_equal(sluice_form_append(&b, "grant_type",
                                      "urn:ietf:params:oauth:grant-type:"
                                      "jwt-bearer"),
                   0);
  assert_int_equal(sluice_form_append(&b, "assertion", "aB-_.c.d"), 0);
  assert_string_equal(b.data, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                              "grant-type%3Ajwt-bearer&assertion=aB-_.c.d");

  sluice_buf_reset(&b);
  assert_int_equal(sluice_form_append(&b, "a b", "x+y z&w=v~%/\xc3\xa9"), 0);
  assert_string_equal(b.data, "a%20b=x%2By%20z%26w%3Dv~%25%2F%C3%A9");
  assert_int_equal(sluice_form_append(&b, "empty", ""), 0);
  assert_string_equal(b.data, "a%20b=x%2By%20z%26w%3Dv~%25%2F%C3%A9&empty=");
  assert_int_equal(sluice_form_append(&b, NULL, "v"), SLUICE_EINVAL);
  sluice_buf_free(&b);
}

/* --- token replies -------------------------------------------------------- */

static int parse(long status, const char *body, const char *flow,
                 struct sluice_oauth_token *t, struct sluice_error *err)
{
  return sluice_oauth_parse_token(status, body, strlen(body), flow, t, err);
}

static void test_token_success(void **state)
{
  /* salesforce.md 1.1, client credentials. */
  static const char cc[] =
      "{\"access_token\":\"00DS7000000oxzo!AR8AQPXAhJNv\","
      "\"signature\":\"nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=\","
      "\"token_format\":\"opaque\","
      "\"instance_url\":\"https://instance_name.my.salesforce.com\","
      "\"id\":\"https://login.salesforce.com/id/00Dd000000XXXXXXX/"
      "005d000000XXXXX\","
      "\"token_type\":\"Bearer\",\"issued_at\":\"1699999999999\"}";
  /* 1.2, JWT bearer: scope, no issued_at. */
  static const char jwt[] =
      "{\"access_token\":\"00Dxx0000000123!ARYAQNzk4LCbHsX\",\"scope\":\"id "
      "full\",\"instance_url\":\"https://eu6.salesforce.com\","
      "\"id\":\"https://login.salesforce.com/id/00Dxx0000000123EAI/"
      "005xx000000456AAA\",\"token_type\":\"Bearer\"}";
  /* 1.3 with rotation: a new refresh token; and a standard expires_in. */
  static const char rt[] =
      "{\"access_token\":\"tok\",\"refresh_token\":\"5Aep861new\","
      "\"instance_url\":\"https://x.my.salesforce.com\","
      "\"issued_at\":1699999999999,\"expires_in\":\"7200\"}";
  struct sluice_oauth_token t;
  struct sluice_error err = {0};

  (void)state;
  assert_int_equal(parse(200, cc, "client_credentials", &t, &err), 0);
  assert_string_equal(t.access_token, "00DS7000000oxzo!AR8AQPXAhJNv");
  assert_string_equal(t.instance_url,
                      "https://instance_name.my.salesforce.com");
  assert_string_equal(t.token_type, "Bearer");
  assert_null(t.refresh_token);
  assert_null(t.scope);
  assert_int_equal(t.issued_at_ms, INT64_C(1699999999999));
  assert_int_equal(t.expires_in_s, -1);
  sluice_oauth_token_free(&t);
  assert_null(t.access_token);
  sluice_oauth_token_free(&t); /* twice is harmless */

  assert_int_equal(parse(200, jwt, "jwt_bearer", &t, &err), 0);
  assert_string_equal(t.access_token, "00Dxx0000000123!ARYAQNzk4LCbHsX");
  assert_string_equal(t.scope, "id full");
  assert_string_equal(t.instance_url, "https://eu6.salesforce.com");
  assert_int_equal(t.issued_at_ms, -1);
  sluice_oauth_token_free(&t);

  assert_int_equal(parse(200, rt, "refresh_token", &t, &err), 0);
  assert_string_equal(t.refresh_token, "5Aep861new");
  assert_null(t.token_type);
  assert_int_equal(t.issued_at_ms, INT64_C(1699999999999));
  assert_int_equal(t.expires_in_s, 7200);
  sluice_oauth_token_free(&t);
  sluice_oauth_token_free(NULL);
}

static void expect_fail(long status, const char *body, const char *flow,
                        int code, int retryable, const char *msg)
{
  struct sluice_oauth_token t;
  struct sluice_error err = {0};

  assert_int_equal(parse(status, body, flow, &t, &err), code);
  assert_int_equal(err.code, code);
  assert_int_equal(err.retryable, retryable);
  if (strcmp(err.message, msg) != 0)
    fail_msg("message '%s', want '%s'", err.message, msg);
  assert_null(t.access_token);
  assert_null(t.instance_url);
  assert_int_equal(t.issued_at_ms, -1);
  assert_int_equal(t.expires_in_s, -1);
}

static void test_token_errors(void **state)
{
  char longdesc[600];

  (void)state;
  /* salesforce.md 1.5 */
  expect_fail(400,
              "{\"error\":\"invalid_grant\",\"error_description\":\"user "
              "hasn't approved this consumer\"}",
              "jwt_bearer", SLUICE_EAUTH, 0,
              "jwt_bearer: invalid_grant: user hasn't approved this consumer");
  expect_fail(400,
              "{\"error\":\"invalid_grant\",\"error_description\":"
              "\"expired access/refresh token\"}",
              "refresh_token", SLUICE_EAUTH, 0,
              "refresh_token: invalid_grant: expired access/refresh token");
  expect_fail(400,
              "{\"error\":\"invalid_grant\",\"error_description\":\"request "
              "not supported on this domain\"}",
              "client_credentials", SLUICE_EAUTH, 0,
              "client_credentials: invalid_grant: request not supported on "
              "this domain");
  expect_fail(400,
              "{\"error\":\"invalid_client_id\",\"error_description\":"
              "\"client identifier invalid\"}",
              NULL, SLUICE_EAUTH, 0,
              "oauth: invalid_client_id: client identifier invalid");
  expect_fail(401, "{\"error\":\"invalid_client\"}", "client_credentials",
              SLUICE_EAUTH, 0, "client_credentials: invalid_client");
  /* An error body even with a 200. */
  expect_fail(200,
              "{\"error\":\"invalid_request\",\"error_description\":"
              "\"grant type is missing\"}",
              "jwt_bearer", SLUICE_EAUTH, 0,
              "jwt_bearer: invalid_request: grant type is missing (HTTP 200)");
  /* Control characters from the server are not passed on. */
  expect_fail(400, "{\"error\":\"x\\ny\",\"error_description\":\"a\\u001bb\"}",
              "f", SLUICE_EAUTH, 0, "f: x?y: a?b");

  /* The server's side: try again. */
  expect_fail(503, "<html><body>Service Unavailable</body></html>",
              "jwt_bearer", SLUICE_EPROTO, 1,
              "jwt_bearer: the token endpoint's reply is not JSON (HTTP 503; "
              "at byte 1: a syntax error)");
  expect_fail(500, "{\"error\":\"server_error\"}", "jwt_bearer", SLUICE_EPROTO,
              1, "jwt_bearer: server_error (HTTP 500)");
  expect_fail(502, "{}", "jwt_bearer", SLUICE_EPROTO, 1,
              "jwt_bearer: the token endpoint failed (HTTP 502)");
  expect_fail(429, "[]", "jwt_bearer", SLUICE_ELIMIT, 1,
              "jwt_bearer: the token endpoint is rate limiting (HTTP 429)");
  /* jansson's offset is just past the token it could not use. */
  expect_fail(404, "Not Found", "jwt_bearer", SLUICE_EPROTO, 1,
              "jwt_bearer: the token endpoint's reply is not JSON (HTTP 404; "
              "at byte 3: a syntax error)");
  expect_fail(200, "", "jwt_bearer", SLUICE_EPROTO, 1,
              "jwt_bearer: the token endpoint sent an empty reply (HTTP 200)");

  /* JSON, but not what a token reply is. */
  expect_fail(200, "{\"instance_url\":\"https://x\"}", "jwt_bearer",
              SLUICE_EPROTO, 0,
              "jwt_bearer: the token reply has no access_token");
  expect_fail(200, "{\"access_token\":\"\"}", "jwt_bearer", SLUICE_EPROTO, 0,
              "jwt_bearer: the token reply has no access_token");
  expect_fail(200, "{\"access_token\":42}", "jwt_bearer", SLUICE_EPROTO, 0,
              "jwt_bearer: the token reply has no access_token");
  expect_fail(200, "[\"access_token\"]", "jwt_bearer", SLUICE_EPROTO, 0,
              "jwt_bearer: the token reply is not a JSON object");
  expect_fail(403, "{\"message\":\"no\"}", "jwt_bearer", SLUICE_EPROTO, 0,
              "jwt_bearer: the token endpoint answered HTTP 403 without an "
              "OAuth error");

  /* A long description is cut. */
  memset(longdesc, 0, sizeof longdesc);
  strcpy(longdesc, "{\"error\":\"e\",\"error_description\":\"");
  memset(longdesc + strlen(longdesc), 'd', 400);
  strcat(longdesc, "\"}");
  {
    struct sluice_oauth_token t;
    struct sluice_error err = {0};

    assert_int_equal(parse(400, longdesc, "f", &t, &err), SLUICE_EAUTH);
    assert_int_equal(strlen(err.message), strlen("f: e: ") + 200);
  }
}

static void test_token_never_in_messages(void **state)
{
  /* Broken JSON right at the token: jansson's own text would quote it. */
  static const char *bodies[] = {
      "{\"access_token\":\"00DSECRETTOKEN!xyz\",\"instance_url\":}",
      "{\"access_token\":\"00DSECRETTOKEN!xyz\" \"x\":1}",
      "{\"access_token\":\"00DSECRETTOKEN!xyz",
      "00DSECRETTOKEN!xyz",
      "{\"access_token\":\"00DSECRETTOKEN!xyz\",\"a\":1,\"a\":tru}",
  };
  struct sluice_oauth_token t;
  struct sluice_error err = {0};
  size_t i;

  (void)state;
  for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    assert_int_equal(parse(200, bodies[i], "jwt_bearer", &t, &err),
                     SLUICE_EPROTO);
    assert_int_equal(err.retryable, 1);
    assert_non_null(strstr(err.message, "is not JSON"));
    assert_non_null(strstr(err.message, "at byte "));
    assert_null(strstr(err.message, "SECRET"));
    assert_null(t.access_token);
  }
  /* The byte offset is jansson's. */
  assert_int_equal(parse(200, bodies[0], "jwt_bearer", &t, &err),
                   SLUICE_EPROTO);
  assert_non_null(strstr(err.message, "at byte 53:"));
  /* A body that is not NUL-terminated is read only to len. */
  assert_int_equal(sluice_oauth_parse_token(200, "{\"access_token\":\"t\"}xyz",
                                            20, "f", &t, &err),
                   0);
  assert_string_equal(t.access_token, "t");
  sluice_oauth_token_free(&t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pkey_forms),
      cmocka_unit_test(test_pkey_public_pem),
      cmocka_unit_test(test_pkey_cert_beside_key),
      cmocka_unit_test(test_pkey_errors),
      cmocka_unit_test(test_pkey_keeps_openssl_errors),
      cmocka_unit_test(test_pkey_files),
      cmocka_unit_test(test_base64url_vectors),
      cmocka_unit_test(test_base64url_rejects),
      cmocka_unit_test(test_base64url_roundtrip),
      cmocka_unit_test(test_jwt_sign_verify),
      cmocka_unit_test(test_salesforce_claims),
      cmocka_unit_test(test_snowflake_account),
      cmocka_unit_test(test_snowflake_claims),
      cmocka_unit_test(test_snowflake_jwt_end_to_end),
      cmocka_unit_test(test_form),
      cmocka_unit_test(test_token_success),
      cmocka_unit_test(test_token_errors),
      cmocka_unit_test(test_token_never_in_messages),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
