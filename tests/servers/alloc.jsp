<%! static final byte[][] kept = new byte[32][]; static long served; %><%
byte[] buffer = new byte[1 << 20];
for (int i = 0; i < buffer.length; i += 4096) buffer[i] = (byte) i;
synchronized (kept) { kept[(int) (served++ % 32)] = buffer; }
%>ok
