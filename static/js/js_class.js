// Loaded in <head>, before the page shows: styles for "JavaScript runs" (html.js, see
// app.css) apply from the first paint. A file, not an inline script: the
// Content-Security-Policy allows scripts from this site only.
document.documentElement.classList.add("js");
