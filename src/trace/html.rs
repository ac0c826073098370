//! The self-contained HTML timeline: one file, no network fetches; the data
//! is a JSON literal in a `<script>`, drawn on a `<canvas>` by inline JS.
//!
//! Layout: one lane per P, then per M, then "other threads". Goroutine
//! slices are coloured by goroutine id (a golden-angle hue, so neighbours
//! differ); M idle time is grey. Markers sit on the lane's top edge:
//! hand-offs and steals as large triangles (hand-off blue, steal red),
//! everything else as small ticks. Hover shows the slice or marker under
//! the pointer; the wheel zooms around the pointer, dragging pans.

use super::timeline::{json_str, Lane, Timeline};
use std::fmt::Write;

/// The whole page.
pub(crate) fn render(t: &Timeline) -> String {
    let lane_index = |l: Lane| t.lanes.iter().position(|&x| x == l).unwrap_or(0);
    let mut data = String::new();
    data.push_str("{\"lanes\":[");
    for (i, l) in t.lanes.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str(&json_str(&l.name()));
    }
    let _ = write!(data, "],\"end\":{},\"slices\":[", t.end.max(1));
    for (i, s) in t.slices.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        let _ = write!(
            data,
            "[{},{},{},{},{}]",
            lane_index(s.lane),
            s.start,
            s.end,
            s.g,
            json_str(&format!("{} {}", s.name, s.detail))
        );
    }
    data.push_str("],\"markers\":[");
    for (i, m) in t.markers.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        let _ = write!(
            data,
            "[{},{},{},{}]",
            lane_index(m.lane),
            m.ts,
            json_str(m.kind.name()),
            json_str(&m.label)
        );
    }
    data.push_str("]}");
    let summary = format!(
        "{} events, {} dropped, {:.3} ms",
        t.events,
        t.dropped,
        t.end as f64 / 1e6
    );
    PAGE.replace("__SUMMARY__", &summary)
        .replace("__DATA__", &data)
}

const PAGE: &str = r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>goroutines trace</title>
<style>
body{margin:0;font:12px system-ui,sans-serif;background:#fafafa;color:#222}
header{padding:6px 10px;border-bottom:1px solid #ddd;display:flex;gap:18px;align-items:center}
header b{font-size:14px}
.key{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 7px;border-radius:3px;display:none;white-space:pre}
canvas{display:block}
</style></head><body>
<header><b>goroutines trace</b><span>__SUMMARY__</span>
<span><span class="key" style="background:#36c"></span>hand-off</span>
<span><span class="key" style="background:#d22"></span>steal</span>
<span><span class="key" style="background:#999"></span>M idle</span>
<span>wheel: zoom, drag: pan</span></header>
<canvas id="c"></canvas><div id="tip"></div>
<script>
const D=__DATA__;
const LW=90,LH=26,TOP=24;
const cv=document.getElementById('c'),cx=cv.getContext('2d'),tip=document.getElementById('tip');
let t0=0,t1=D.end,W=0;
function size(){W=window.innerWidth;cv.width=W;cv.height=TOP+D.lanes.length*LH+10;draw();}
function X(t){return LW+(t-t0)/(t1-t0)*(W-LW-10);}
function T(x){return t0+(x-LW)/(W-LW-10)*(t1-t0);}
function hue(g){return (g*137.508)%360;}
function fmt(ns){return ns>=1e6?(ns/1e6).toFixed(3)+' ms':(ns/1e3).toFixed(1)+' us';}
function draw(){
 cx.clearRect(0,0,cv.width,cv.height);
 cx.font='12px system-ui,sans-serif';
 for(let i=0;i<D.lanes.length;i++){
  const y=TOP+i*LH;
  cx.fillStyle=i%2?'#f0f0f0':'#fff';cx.fillRect(0,y,W,LH);
  cx.fillStyle='#222';cx.fillText(D.lanes[i],6,y+LH/2+4);
 }
 cx.strokeStyle='#ccc';cx.beginPath();cx.moveTo(LW,0);cx.lineTo(LW,cv.height);cx.stroke();
 cx.fillStyle='#555';
 for(let k=0;k<=8;k++){const t=t0+(t1-t0)*k/8,x=X(t),s=fmt(t);cx.fillText(s,k==8?x-cx.measureText(s).width-2:x+2,14);cx.fillRect(x,18,1,4);}
 cx.save();cx.beginPath();cx.rect(LW,0,W-LW,cv.height);cx.clip();
 for(const s of D.slices){
  if(s[2]<t0||s[1]>t1)continue;
  const x=X(s[1]),w=Math.max(1,X(s[2])-x),y=TOP+s[0]*LH+5;
  cx.fillStyle=s[3]?'hsl('+hue(s[3])+',65%,55%)':'#bbb';
  cx.fillRect(x,y,w,LH-10);
  if(w>30&&s[3]){cx.fillStyle='#000';cx.fillText('g'+s[3],x+2,y+12);}
 }
 for(const m of D.markers){
  if(m[1]<t0||m[1]>t1)continue;
  const x=X(m[1]),y=TOP+m[0]*LH;
  if(m[2]=='hand-off'||m[2]=='steal'){
   cx.fillStyle=m[2]=='steal'?'#d22':'#36c';
   cx.beginPath();cx.moveTo(x-5,y);cx.lineTo(x+5,y);cx.lineTo(x,y+8);cx.fill();
  }else{cx.fillStyle='#333';cx.fillRect(x,y,1,4);}
 }
 cx.restore();
}
function hit(ev){
 const r=cv.getBoundingClientRect(),x=ev.clientX-r.left,y=ev.clientY-r.top;
 const lane=Math.floor((y-TOP)/LH);if(lane<0||lane>=D.lanes.length||x<LW)return null;
 let best=null,bd=6;
 for(const m of D.markers){if(m[0]!=lane)continue;const d=Math.abs(X(m[1])-x);if(d<bd){bd=d;best=m[3]+' @ '+fmt(m[1]);}}
 if(best)return best;
 const t=T(x),slop=(t1-t0)/(W-LW)*1;
 for(const s of D.slices){if(s[0]==lane&&s[1]-slop<=t&&t<=s[2]+slop)return s[4]+'\n'+fmt(s[1])+' .. '+fmt(s[2])+' ('+fmt(s[2]-s[1])+')';}
 return null;
}
let drag=null;
cv.addEventListener('mousemove',ev=>{
 if(drag){const dt=(ev.clientX-drag.x)/(W-LW-10)*(drag.t1-drag.t0);t0=drag.t0-dt;t1=drag.t1-dt;draw();return;}
 const h=hit(ev);
 if(h){tip.textContent=h;tip.style.display='block';tip.style.left=(ev.clientX+12)+'px';tip.style.top=(ev.clientY+12)+'px';}
 else tip.style.display='none';
});
cv.addEventListener('mousedown',ev=>{drag={x:ev.clientX,t0,t1};});
window.addEventListener('mouseup',()=>{drag=null;});
cv.addEventListener('wheel',ev=>{
 ev.preventDefault();const r=cv.getBoundingClientRect(),t=T(ev.clientX-r.left),f=ev.deltaY>0?1.25:0.8;
 t0=t-(t-t0)*f;t1=t+(t1-t)*f;draw();
},{passive:false});
window.addEventListener('resize',size);size();
</script></body></html>
"##;
