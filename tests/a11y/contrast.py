#!/usr/bin/env python3
# WCAG 2.2 relative-luminance contrast of the dashboard's colour pairs (runtime/dashboard.cpp style_sheet);
# prints the table in docs/accessibility.md. Keep the two in step when a colour changes.
def lum(h):
    h=h.lstrip('#'); c=[int(h[i:i+2],16)/255 for i in (0,2,4)]
    c=[x/12.92 if x<=0.04045 else ((x+0.055)/1.055)**2.4 for x in c]
    return 0.2126*c[0]+0.7152*c[1]+0.0722*c[2]
def ratio(a,b):
    la,lb=sorted([lum(a),lum(b)],reverse=True); return (la+0.05)/(lb+0.05)
pairs=[("body text","#1b1b1b","#ffffff",4.5),("table header / nav text","#1b1b1b","#eef1f5",4.5),
("link","#0a4ea8","#ffffff",4.5),("link in header","#0a4ea8","#eef1f5",4.5),
("visited link","#5b2a86","#ffffff",4.5),("visited link in header","#5b2a86","#eef1f5",4.5),
("PASS badge","#0b6b2e","#eaf6ee",4.5),("FAIL badge","#a3151b","#fdeeee",4.5),("SKIP/neutral badge","#4a4a4a","#ffffff",4.5),
("button text","#ffffff","#0a4ea8",4.5),
("focus outline vs page (non-text)","#b3261e","#ffffff",3.0),("focus outline vs header (non-text)","#b3261e","#eef1f5",3.0),
("borders, input edges (non-text)","#5f6b7a","#ffffff",3.0),("header rule vs header (non-text)","#5f6b7a","#eef1f5",3.0)]
print("| element | foreground | background | contrast | WCAG 2.2 AA minimum |")
print("|---|---|---|---|---|")
for n,f,b,m in pairs:
    r=ratio(f,b); print(f"| {n} | `{f}` | `{b}` | {r:.2f}:1 | {m}:1 {'met' if r>=m else 'NOT MET'} |")
